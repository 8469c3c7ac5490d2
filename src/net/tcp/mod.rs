//! Green TCP: `TcpListener` and `TcpStream` with std's shapes.

mod listener;
mod stream;

pub use listener::{Incoming, TcpListener};
pub use stream::TcpStream;
