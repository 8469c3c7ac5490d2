//! Green sockets: std's networking types whose blocking calls switch
//! greenlets instead of blocking the thread.

mod tcp;

pub use tcp::{Incoming, TcpListener, TcpStream};
