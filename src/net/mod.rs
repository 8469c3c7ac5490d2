//! Green sockets: std's networking types whose blocking calls switch
//! greenlets instead of blocking the thread.

mod addr;
mod tcp;
mod udp;
mod unix;

pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{IncomingUnix, UnixListener, UnixStream};
