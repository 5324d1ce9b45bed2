// Namespace work shared by the one-shot workers (netns.cc) and the kernel lane (lane.cc).
#pragma once
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

#include "common.h"

namespace merak {

// What to do while inside a namespace: write sysctls, open sockets, keep an fd on it.
struct InsideWork {
  std::vector<std::pair<std::string, std::string>> sysctls;  // "net.ipv4.tcp_mtu_probing" -> "2"
  struct Sock {
    int domain, type, protocol;
  };
  std::vector<Sock> sockets;
  // A TCP socket bound to ip:port and listening, after the sockets (ip empty: none). A server of a
  // process outside the namespace then accepts connections made to the namespace's addresses.
  std::string listen_ip;
  int listen_port = 0;
  bool namespace_fd = false;  // also return an fd on the namespace itself, after the sockets
};

InsideWork ParseInsideWork(const Napi::Object& o);

// `ip netns add NAME`, then `work` inside it, on the calling (non-JS) thread, which is switched
// back before returning. On failure nothing is left behind and `e` says why.
int CreateNamespace(const std::string& name, const InsideWork& work, std::vector<int>* fds, SysError* e);

// A name /run/netns can hold: not empty, ".", ".." or longer than 255, no '/'.
bool ValidName(const std::string& n);

Napi::Value FdArray(Napi::Env env, const std::vector<int>& fds);

}  // namespace merak
