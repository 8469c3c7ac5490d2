//! `GET /` → `200 OK`, `<h1>Index</h1>`, on tokio + hyper 1 (HTTP/1.1,
//! keep-alive, pipeline flush): a current_thread runtime for one thread, a
//! multi_thread runtime with N workers for `--threads N`.
//!
//! ```sh
//! hyper_server --threads 2 8080
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use http_bench::{BODY, args};
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn route(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = if req.uri().path() == "/" {
        (StatusCode::OK, BODY)
    } else {
        (StatusCode::NOT_FOUND, "<h1>404: Not Found</h1>")
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    Ok(response)
}

async fn serve(addr: String) -> std::io::Result<()> {
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("hyper: listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .keep_alive(true)
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service_fn(route))
                .await;
        });
    }
}

fn main() -> std::io::Result<()> {
    let (threads, addr) = args();
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    eprintln!("hyper: {threads} thread(s)");
    runtime.block_on(serve(addr))
}
