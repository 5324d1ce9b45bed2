// What other parts of the addon (the kernel lane) need from a Socket, without its class.
#pragma once
#include <napi.h>

namespace merak {

class Socket;

// The Socket wrapped by `o`, or nullptr if `o` is not one (checked by type tag).
Socket* SocketFromObject(Napi::Object o);
// The socket's fd, kept open until the matching release even if close() comes first; -1 if closed.
int SocketHoldFd(Socket* s);
void SocketReleaseFd(Socket* s);

}  // namespace merak
