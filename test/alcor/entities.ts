// The JSON shapes the Alcor services answer with, named and keyed exactly as on the wire
// (Alcor's REST API, docs/alcor.md). Keys are written in the order Jackson emits them, so a response
// body reads like a real one. `null` is a real JSON null: every entity but PortEntity includes
// null fields; PortEntity omits them (@JsonInclude(NON_ABSENT)), hence its optional keys.

/** The Alcor services this server emulates, named by their short form. */
export type AlcorService = 'vpc' | 'subnet' | 'route' | 'port' | 'node' | 'sg';

export const ALCOR_SERVICES: readonly AlcorService[] = ['vpc', 'subnet', 'route', 'port', 'node', 'sg'];

/** The Kubernetes NodePort of each service in Merak's deployment. */
export const NODE_PORTS: Readonly<Record<AlcorService, number>> = {
  vpc: 30001, subnet: 30002, route: 30003, port: 30006, node: 30007, sg: 30008,
};

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** `WE/route/RouteEntity.java`: the VPC's routes (no @JsonProperty, hence the camelCase keys). */
export interface RouteEntity {
  id: string;
  project_id: string | null;
  tenant_id: string | null;
  name: string;
  description: string;
  destination: string | null;
  target: string;
  priority: number;
  associatedType: string;
  associatedTableId: string;
}

export interface SegmentInfo {
  'provider:network_type': string | null;
  'provider:physical_network': string | null;
  'provider:segmentation_id': number | null;
}

/** `WE/vpc/VpcEntity.java`. */
export interface VpcEntity {
  id: string;
  project_id: string;
  tenant_id: string;
  name: string | null;
  description: string | null;
  cidr: string | null;
  routes: RouteEntity[] | null;
  router: JsonValue;
  admin_state_up: boolean;
  dns_domain: string | null;
  mtu: number;
  port_security_enabled: boolean;
  'provider:network_type': string;
  'provider:physical_network': string | null;
  'provider:segmentation_id': number;
  'router:external': boolean;
  segments: SegmentInfo[] | null;
  shared: boolean;
  vlan_transparent: boolean;
  is_default: boolean;
  availability_zone_hints: JsonValue[] | null;
  availability_zones: JsonValue[];
  qos_policy_id: JsonValue[] | null;
  revision_number: number;
  status: string;
  tags: string[];
  created_at: string;
  updated_at: string;
  ipv4_address_scope: string | null;
  ipv6_address_scope: string | null;
  l2_adjacency: string | null;
  /** null on create and in lists; the VPC's subnet ids on GET by id. */
  subnets: string[] | null;
  /** The second property Jackson derives from the `isDefault()` getter. */
  default: boolean;
}

export interface AllocationPool { start: string; end: string }

/** `WE/subnet/SubnetEntity.java`. */
export interface SubnetEntity {
  id: string;
  project_id: string;
  tenant_id: string;
  name: string | null;
  description: string | null;
  network_id: string;
  cidr: string;
  availability_zone: string | null;
  gateway_ip: string;
  gatewayPortId: string;
  gateway_port_detail: { gateway_macAddress: string; gateway_port_id: string };
  /** null until attached to a router; "" after detach. */
  attached_router_id: string | null;
  port_detail: JsonValue;
  enable_dhcp: boolean;
  primary_dns: string | null;
  secondary_dns: string | null;
  dns_list: JsonValue[] | null;
  ip_version: number;
  ipV4_rangeId: string;
  ipV6_rangeId: string | null;
  ipv6_address_mode: string | null;
  ipv6_ra_mode: string | null;
  revision_number: number;
  segment_id: string | null;
  shared: boolean | null;
  sort_dir: string | null;
  sort_key: string | null;
  subnetpool_id: string | null;
  dns_publish_fixed_ip: boolean | null;
  tags: string[];
  'tags-any': string | null;
  'not-tags': string | null;
  'not-tags-any': string | null;
  fields: string | null;
  dns_nameservers: JsonValue[];
  allocation_pools: AllocationPool[];
  host_routes: JsonValue[];
  prefixlen: string | null;
  use_default_subnet_pool: boolean | null;
  service_types: JsonValue[];
  created_at: string;
  updated_at: string;
}

export interface FixedIp { subnet_id: string | null; ip_address: string | null }

/** `WE/port/PortEntity.java`: null fields are omitted, so every key is optional. */
export interface PortEntity {
  project_id?: string;
  tenant_id?: string;
  id?: string;
  name?: string;
  description?: string;
  network_id?: string;
  admin_state_up?: boolean;
  mac_address?: string;
  veth_name?: string;
  fast_path?: boolean;
  device_id?: string;
  device_owner?: string;
  status?: string;
  fixed_ips?: FixedIp[];
  allowed_address_pairs?: JsonValue[];
  extra_dhcp_opts?: JsonValue[];
  security_groups?: string[];
  'binding:host_id'?: string;
  'binding:profile'?: JsonValue;
  'binding:vif_details'?: JsonValue;
  'binding:vif_type'?: string;
  'binding:vnic_type'?: string;
  network_ns?: string;
  dns_name?: string;
  dns_domain?: string;
  dns_assignment?: JsonValue;
  create_at?: string;
  update_at?: string;
  ip_allocation?: string;
  port_security_enabled?: boolean;
  qos_network_policy_id?: string;
  qos_policy_id?: string;
  revision_number?: number;
  resource_request?: JsonValue;
  tags?: string[];
  uplink_status_propagation?: boolean;
  mac_learning_enabled?: boolean;
}

/** `WE/securitygroup/SecurityGroupRule.java`. */
export interface SecurityGroupRule {
  id: string;
  project_id: string | null;
  tenant_id: string | null;
  name: string | null;
  description: string | null;
  security_group_id: string;
  remote_group_id: string | null;
  /** Strings in Alcor: 'ingress'/'egress' and 'IPv4'/'IPv6' in practice, but any non-empty direction is kept. */
  direction: string;
  remote_ip_prefix: string | null;
  protocol: string | null;
  port_range_max: number | null;
  port_range_min: number | null;
  ethertype: string | null;
}

/** `WE/securitygroup/SecurityGroup.java`. */
export interface SecurityGroup {
  id: string;
  project_id: string;
  tenant_id: string;
  name: string | null;
  description: string | null;
  security_group_rules: SecurityGroupRule[];
  create_at: string;
  update_at: string;
}

export interface RouteTable {
  id: string;
  project_id: string | null;
  tenant_id: string | null;
  name: string | null;
  description: string | null;
  routes: JsonValue[];
  route_table_type: string;
  owner: string | null;
}

/** `WE/route/NeutronRouterWebRequestObject.java`. */
export interface RouterEntity {
  id: string;
  project_id: string;
  tenant_id: string;
  name: string | null;
  description: string | null;
  routetable: RouteTable;
  /** The VPC id, set on the first interface attach. */
  owner: string | null;
  /** The gateway ports of the attached subnets. */
  gateway_ports: string[] | null;
  admin_state_up: boolean | null;
  status: string;
  external_gateway_info: JsonValue;
  revision_number: number;
  distributed: boolean | null;
  ha: boolean | null;
  availability_zone_hints: JsonValue[] | null;
  availability_zones: JsonValue[];
  service_type_id: string | null;
  flavor_id: string | null;
  tags: JsonValue[] | null;
  conntrack_helpers: JsonValue[] | null;
}

/** `WE/route/RouterInterfaceResponse.java`: every field null when the subnet is unknown. */
export interface RouterInterfaceResponse {
  id: string | null;
  network_id: string | null;
  port_id: string | null;
  subnet_id: string | null;
  subnet_ids: string[] | null;
  project_id: string | null;
  tenant_id: string | null;
  tags: JsonValue[] | null;
}

/** `WE/node/NodeInfo.java`, serialised by field. */
export interface NodeInfo {
  node_id: string | null;
  node_name: string | null;
  /** Where NCM dials the host agent (`local_ip:50001`) and the GoalState host_resources key. */
  local_ip: string | null;
  mac_address: string | null;
  veth: string | null;
  /** A Java int: 0 when absent. Stored only; NCM always dials 50001. */
  server_port: number;
  host_dvr_mac: string | null;
  ncm_id: string | null;
  /** The tunnel endpoint that DPM sends to other hosts as NeighborConfiguration.host_ip_address. */
  'data-path-ip': string | null;
  ncm_uri: string | null;
}
