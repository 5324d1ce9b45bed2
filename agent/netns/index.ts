// The per-namespace API: a NetnsHandle per namespace, one file per object family. The family
// functions also take any NetlinkRequester (e.g. a NetlinkBatch, to see the bytes they send).
export { NetnsHandle, type NetnsCreateOptions, type NetnsOpenOptions } from './netns-handle.js';
export { type Link, type LinkChanges, type LinkRef, type VethOptions, linkAddVeth, linkDelete, linkFromMessage, linkGet, linkList, linkSet } from './link.js';
export { type Addr, addrAdd, addrDelete, addrList } from './addr.js';
export { type Route, type RouteSpec, routeAdd, routeAddDefault, routeList } from './route.js';
export { type Neigh, neighAdd, neighList } from './neigh.js';
export { checkNamespaceName, createNamespace, deleteNamespaces, listNamespaces } from './namespace.js';
// Callers match kernel errors without importing the codec.
export { NetlinkError, NetlinkSocketError, isExists, isNotFound } from '../netlink/index.js';
