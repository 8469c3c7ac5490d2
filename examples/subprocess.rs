//! Seed 002's listing 12-9 and seed 000's `subprocess` section, with local
//! commands in place of `ls -l` and `nslookup`; the Python original is
//! `examples/expected/subprocess.py`.
//!
//! ```python
//! results = subprocess.run(['sh', '-c', 'printf "pear\\napple\\nfig\\n" | sort'], stdout=subprocess.PIPE)
//! print(results.stdout)
//! print('Exit code:', results.returncode)
//!
//! print('$ echo www.python.org', flush=True)
//! r = subprocess.call(['echo', 'www.python.org'])
//! print('Exit code:', r)
//!
//! print('$ tr a-z A-Z')
//! p = subprocess.Popen(['tr', 'a-z', 'A-Z'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
//! output, err = p.communicate(b'set q=mx\npython.org\nexit\n')
//! print(output.decode('utf-8'))
//! print('Exit code:', p.returncode)
//! ```
//!
//! Then three children at once from three greenlets: the total is about
//! the longest, not the sum (printed on stderr: it is a timing).
//!
//! Run it with `cargo run --example subprocess`.

use std::io::Write;
use std::time::Instant;

use greenlet::process::{Command, Stdio};

/// Python's `repr` of a `bytes` value: `b'...'`.
fn py_bytes(bytes: &[u8]) -> String {
    let mut repr = String::from("b'");
    for &b in bytes {
        match b {
            b'\n' => repr.push_str("\\n"),
            b'\r' => repr.push_str("\\r"),
            b'\t' => repr.push_str("\\t"),
            b'\\' => repr.push_str("\\\\"),
            b'\'' => repr.push_str("\\'"),
            0x20..=0x7e => repr.push(char::from(b)),
            _ => repr.push_str(&format!("\\x{b:02x}")),
        }
    }
    repr.push('\'');
    repr
}

/// The exit code, as Python's `returncode` (minus the signal's number for a
/// death by signal).
fn returncode(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0))
}

fn main() -> std::io::Result<()> {
    // Seed 002: `run(..., stdout=PIPE)` is `output()` (stderr is captured
    // too; Python's would be inherited, and this child writes none).
    let results = Command::new("sh")
        .args(["-c", r#"printf "pear\napple\nfig\n" | sort"#])
        .stdout(Stdio::piped())
        .output()?;
    println!("{}", py_bytes(&results.stdout));
    println!("Exit code: {}", returncode(results.status));

    // Seed 000: `call` is `status()`: the child writes to our stdout.
    println!("$ echo www.python.org");
    let r = Command::new("echo").arg("www.python.org").status()?;
    println!("Exit code: {}", returncode(r));

    // Seed 000: `communicate(input)`: a greenlet writes the input while
    // this one reads the output, so neither pipe can fill up and stall.
    println!("$ tr a-z A-Z");
    let mut p = Command::new("tr")
        .args(["a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = p.stdin.take().expect("piped");
    let writer = greenlet::spawn(move || stdin.write_all(b"set q=mx\npython.org\nexit\n"));
    let output = p.wait_with_output()?;
    writer.join().expect("the writer finishes")?;
    println!("{}", String::from_utf8_lossy(&output.stdout));
    println!("Exit code: {}", returncode(output.status));

    // Three children at once, one greenlet each: each waits only itself.
    let start = Instant::now();
    let sleepers: Vec<_> = ["0.3", "0.2", "0.1"]
        .into_iter()
        .map(|s| greenlet::spawn(move || Command::new("sleep").arg(s).status()))
        .collect();
    for sleeper in greenlet::joinall(sleepers) {
        assert!(sleeper.expect("a sleeper finishes")?.success());
    }
    let took = start.elapsed();
    eprintln!(
        "three children (0.3 + 0.2 + 0.1 s) took {:.2} s",
        took.as_secs_f64()
    );
    Ok(())
}
