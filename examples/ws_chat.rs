//! A chat room over WebSocket: `tungstenite`, a blocking crate, unchanged
//! over green sockets, one room on one thread.
//!
//! ```sh
//! cargo run --example ws_chat                      # listens on 127.0.0.1:9001
//! cargo run --example ws_chat -- 127.0.0.1:0       # any free port
//! cargo run --example ws_chat -- --demo            # three clients of its own chat, then it exits
//! ```
//!
//! A client's first text message is its name; each later one goes to every
//! other member as `name: text`. Members also hear `* name joined` and
//! `* name left`, and a newcomer is welcomed with who is already there. Try it
//! with two terminals of `python3 -m websockets ws://127.0.0.1:9001/`.
//!
//! # One reader and one writer per client
//!
//! A client needs a greenlet that waits for its frames and, at the same time,
//! a way to receive what the others say. One `tungstenite::WebSocket` does
//! both, but its `read` blocks (here: suspends the greenlet) until a frame
//! comes, so nothing could be sent to a client that stays quiet. So each
//! client has two greenlets, over two handles to one socket
//! (`TcpStream::try_clone`, which shares the socket's registration):
//!
//! - the **reader** (the connection's handler) holds the `WebSocket` that
//!   `tungstenite::accept` made, reads frames and puts each text into the
//!   room, which puts it into every other member's `Queue`;
//! - the **writer** holds a second `WebSocket`, made by
//!   `WebSocket::from_raw_socket` (role `Server`) over the clone, and sends
//!   what comes out of its client's `Queue`.
//!
//! tungstenite also writes from `read`: the handshake's response, a Pong for
//! each Ping, the reply to a Close. Were the reader to write to the socket
//! itself, a Pong written while the writer waits, its frame half sent, for
//! room in the socket's buffer would land inside that frame. So the reader's
//! transport
//! ([`Inbound`]) reads from the socket but hands its writes to the same
//! queue as raw bytes: only the writer greenlet ever writes to the socket,
//! and every frame leaves whole. A single greenlet with a read timeout that
//! also polls the queue would work too, but would wake every client on every
//! tick and add up to one tick of latency to each message.
//!
//! The queues are unbounded: a client that never reads makes its queue grow.
//! A real server would bound it (`Queue::bounded` and `try_put`) and drop the
//! messages, or the client, when it is full.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use greenlet::net::{TcpListener, TcpStream};
use greenlet::server::StreamServer;
use greenlet::sync::{Barrier, Queue};
use tungstenite::handshake::{HandshakeError, HandshakeRole};
use tungstenite::protocol::Role;
use tungstenite::{Error, Message, WebSocket};

/// What a client's writer greenlet sends.
#[derive(Debug)]
pub enum Outgoing {
    /// A text message, sent as one frame.
    Text(String),
    /// Bytes tungstenite wrote on the reader's side, sent as they are.
    Bytes(Vec<u8>),
}

/// The reader's transport: reads come from the socket, writes go to the
/// writer's queue (see the module's docs).
#[derive(Debug)]
pub struct Inbound {
    stream: TcpStream,
    outbox: Queue<Outgoing>,
}

impl Read for Inbound {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for Inbound {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let closed = |_| io::Error::from(io::ErrorKind::BrokenPipe);
        self.outbox
            .put(Outgoing::Bytes(buf.to_vec()))
            .map_err(closed)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One member of the room.
struct Member {
    id: u64,
    name: String,
    outbox: Queue<Outgoing>,
}

/// Who is in the room. Every call returns without switching: the borrow is
/// released before any queue is touched (a queue wakes its getter).
#[derive(Default)]
pub struct Room {
    members: RefCell<Vec<Member>>,
    next_id: Cell<u64>,
}

impl Room {
    /// Adds a member, welcomes it, tells the others; returns its id.
    fn join(&self, name: &str, outbox: Queue<Outgoing>) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let here: Vec<String> = self
            .members
            .borrow()
            .iter()
            .map(|m| m.name.clone())
            .collect();
        let welcome = if here.is_empty() {
            format!("* welcome, {name}; nobody else is here")
        } else {
            format!("* welcome, {name}; here: {}", here.join(", "))
        };
        let _ = outbox.put(Outgoing::Text(welcome));
        self.say(id, format!("* {name} joined"));
        let name = name.to_string();
        self.members.borrow_mut().push(Member { id, name, outbox });
        id
    }

    /// Puts `text` into the queue of every member but `from`.
    fn say(&self, from: u64, text: String) {
        let outboxes: Vec<Queue<Outgoing>> = (self.members.borrow().iter())
            .filter(|m| m.id != from)
            .map(|m| m.outbox.clone())
            .collect();
        for outbox in outboxes {
            let _ = outbox.put(Outgoing::Text(text.clone())); // a closed one is leaving
        }
    }

    /// The name of member `id`.
    fn name(&self, id: u64) -> String {
        let members = self.members.borrow();
        members
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.name.clone())
            .unwrap_or_default()
    }

    /// Removes member `id` and tells the others.
    fn leave(&self, id: u64) {
        let name = self.name(id);
        self.members.borrow_mut().retain(|m| m.id != id);
        self.say(id, format!("* {name} left"));
    }
}

/// A chat server on `listener`: one room, one greenlet per client (plus its
/// writer). Call `start` or `serve_forever` on it.
pub fn chat_server(listener: TcpListener) -> StreamServer {
    let room = Rc::new(Room::default());
    StreamServer::new(listener, move |stream, peer| {
        if let Err(e) = serve_client(stream, &room) {
            eprintln!("client {peer}: {e}");
        }
    })
}

/// Serves one client until it closes or fails: this greenlet reads, a
/// second one writes.
fn serve_client(stream: TcpStream, room: &Room) -> tungstenite::Result<()> {
    // Small frames, each wanted at once: without this, Nagle's algorithm
    // holds a frame while the previous one waits for its (delayed) ACK.
    stream.set_nodelay(true)?;
    let outbox = Queue::unbounded();
    let writer_stream = stream.try_clone()?;
    let inbound = Inbound {
        stream,
        outbox: outbox.clone(),
    };
    let mut ws = tungstenite::accept(inbound).map_err(handshake_error)?;
    let writer = {
        let outbox = outbox.clone();
        greenlet::spawn(move || write_frames(writer_stream, outbox))
    };
    let result = match next_text(&mut ws) {
        Ok(Some(name)) => {
            let id = room.join(&name, outbox.clone());
            let result = loop {
                match next_text(&mut ws) {
                    Ok(Some(text)) => room.say(id, format!("{name}: {text}")),
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            };
            // Out of the room before the reply to the client's Close is
            // queued (the next flush), so no message follows that reply.
            room.leave(id);
            result
        }
        other => other.map(drop),
    };
    match ws.flush() {
        Ok(()) | Err(Error::ConnectionClosed | Error::AlreadyClosed) => {}
        Err(e) => eprintln!("flushing the close reply: {e}"),
    }
    outbox.close(); // the writer sends what is queued, then ends
    let _ = writer.join();
    result
}

/// The next text message, or `None` once the peer has closed.
fn next_text<S: Read + Write>(ws: &mut WebSocket<S>) -> tungstenite::Result<Option<String>> {
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => return Ok(Some(text.to_string())),
            Ok(Message::Close(_)) | Err(Error::ConnectionClosed) => return Ok(None),
            Ok(_) => {} // binary, ping and pong: tungstenite answers pings itself
            Err(e) => return Err(e),
        }
    }
}

/// The writer greenlet: sends what comes out of `outbox` until it is closed
/// and empty, or until the socket fails.
fn write_frames(stream: TcpStream, outbox: Queue<Outgoing>) -> tungstenite::Result<()> {
    let mut ws = WebSocket::from_raw_socket(stream, Role::Server, None);
    let result = outbox.iter().try_for_each(|item| match item {
        Outgoing::Text(text) => ws.send(Message::text(text)),
        Outgoing::Bytes(bytes) => Ok(ws.get_mut().write_all(&bytes)?),
    });
    if result.is_err() {
        // Wake the reader too: its read ends, and the client leaves the room.
        let _ = ws.get_ref().shutdown(Shutdown::Both);
    }
    result
}

/// A handshake's error; over a blocking (green) socket it is never
/// `Interrupted`, which only a non-blocking one returns.
pub fn handshake_error<R: HandshakeRole>(e: HandshakeError<R>) -> Error {
    match e {
        HandshakeError::Failure(e) => e,
        HandshakeError::Interrupted(_) => Error::Io(io::ErrorKind::WouldBlock.into()),
    }
}

/// One step of the demo's script, which every client follows in lock step.
#[derive(Clone, Copy)]
enum Step {
    Join(&'static str),
    Say(&'static str, &'static str),
    Leave(&'static str),
}

const SCRIPT: &[Step] = &[
    Step::Join("alice"),
    Step::Join("bob"),
    Step::Join("carol"),
    Step::Say("alice", "hello, everyone"),
    Step::Say("bob", "hi alice"),
    Step::Say("carol", "hey, both of you"),
    Step::Leave("alice"),
    Step::Say("bob", "just us now, carol"),
    Step::Leave("bob"),
    Step::Leave("carol"),
];

/// A tungstenite client in a greenlet: acts when the script names it,
/// otherwise (once it has joined) reads the one message the step makes.
/// Returns what it heard.
fn demo_client(me: &str, addr: SocketAddr, steps: &Barrier) -> tungstenite::Result<Vec<String>> {
    let mut ws = None;
    let mut heard = Vec::new();
    for step in SCRIPT {
        steps.wait(); // the previous step is over for everyone
        match (*step, ws.as_mut()) {
            (Step::Join(who), None) if who == me => {
                let stream = TcpStream::connect(addr)?;
                let url = format!("ws://{addr}/");
                let (mut socket, _) = tungstenite::client(url, stream).map_err(handshake_error)?;
                socket.send(Message::text(me))?;
                heard.extend(next_text(&mut socket)?); // the welcome
                ws = Some(socket);
            }
            (Step::Say(who, text), Some(socket)) if who == me => {
                socket.send(Message::text(text))?
            }
            (Step::Leave(who), Some(socket)) if who == me => {
                socket.close(None)?;
                while next_text(socket)?.is_some() {} // until the server closes
                ws = None;
            }
            (_, Some(socket)) => heard.extend(next_text(socket)?),
            (_, None) => {}
        }
    }
    Ok(heard)
}

/// Three clients chat by the script; prints what each heard.
fn demo() -> io::Result<()> {
    let server = chat_server(TcpListener::bind("127.0.0.1:0")?);
    let addr = server.local_addr()?;
    server.start();
    let names = ["alice", "bob", "carol"];
    let steps = Barrier::new(names.len());
    let clients: Vec<_> = (names.into_iter())
        .map(|name| {
            let steps = steps.clone();
            greenlet::spawn(move || demo_client(name, addr, &steps))
        })
        .collect();
    for (name, client) in names.into_iter().zip(clients) {
        let heard = client
            .join()
            .expect("a client panicked")
            .map_err(io::Error::other)?;
        println!("{name} heard:");
        for line in heard {
            println!("  {line}");
        }
    }
    server.stop(Duration::from_secs(1));
    Ok(())
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--demo") {
        return demo();
    }
    let addr = arg.unwrap_or_else(|| "127.0.0.1:9001".into());
    let server = chat_server(TcpListener::bind(&addr)?);
    println!("chat server listening on ws://{}/", server.local_addr()?);
    io::stdout().flush()?;
    server.serve_forever();
    Ok(())
}
