//! `GET /` → `200 OK`, `<h1>Index</h1>`, on may_minihttp, with
//! `may::config().set_workers(N)` for `--threads N`.
//!
//! ```sh
//! may_server --threads 2 8080
//! ```

use std::io;

use http_bench::{BODY, args};
use may_minihttp::{HttpServer, HttpService, Request, Response};

#[derive(Clone)]
struct Index;

impl HttpService for Index {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        rsp.header("Content-Type: text/html; charset=utf-8");
        if req.path() == "/" {
            rsp.body(BODY);
        } else {
            rsp.status_code(404, "Not Found");
            rsp.body("<h1>404: Not Found</h1>");
        }
        Ok(())
    }
}

fn main() -> io::Result<()> {
    let (threads, addr) = args();
    may::config().set_workers(threads);
    let server = HttpServer(Index).start(&addr)?;
    eprintln!("may_minihttp: {threads} worker(s) on http://{addr}");
    server.join().expect("the server runs until killed");
    Ok(())
}
