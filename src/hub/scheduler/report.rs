//! What every context of the hub is doing, in words: `run_info` (gevent's
//! `format_run_info`) and the deadlock report, which share their lines.
//!
//! One line per context: the main context first, then each greenlet in the
//! order of the task table. A blocked context's line names the call it
//! blocks in, the object or greenlet it waits on (by name when it has one),
//! and the user's source line that made the call.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::Hub;
use crate::hub::context;
use crate::hub::header::Header;
use crate::hub::names;
use crate::hub::wait::WaitReason;

impl Hub {
    /// The deadlock report: the context that can never be woken, and what
    /// every context waits on.
    pub(crate) fn deadlock_report(&self) -> String {
        let mut report = String::from(
            "greenlet: this operation would block forever: no greenlet is ready, \
             no timer is armed and no I/O is awaited.\nBlocked:",
        );
        self.write_lines(&mut report, false);
        report
    }

    /// `run_info`'s text: a first line counting the contexts, then one line
    /// for each.
    pub(crate) fn run_info(&self) -> String {
        let mut info = format!(
            "greenlet run info, thread {}: main and {} greenlet(s)",
            thread_name(),
            self.tasks.len()
        );
        self.write_lines(&mut info, true);
        info
    }

    /// Writes one line per context to `out`. `live`: the caller is running
    /// (so one context runs and others may be ready); otherwise every
    /// context is blocked (the deadlock report).
    fn write_lines(&self, out: &mut String, live: bool) {
        let queued = if live {
            self.ready.queued_waits()
        } else {
            HashSet::new()
        };
        let in_main = live && !context::in_greenlet();
        let main_ready = queued.contains(&self.main.wait().get());
        let mut reasons = self.main.reasons();
        let _ = write!(out, "\n  main");
        match reasons.next() {
            _ if in_main => out.push_str(" is running"),
            _ if main_ready => out.push_str(" is ready"),
            Some(reason) => {
                let _ = write!(out, " waits on {}", self.describe(reason));
                for outer in reasons {
                    let _ = write!(out, ", nested in a wait on {}", self.describe(outer));
                }
            }
            None => out.push_str(" is idle"),
        }
        for (_, task) in &self.tasks {
            let header = task.header();
            let _ = write!(out, "\n  {}", header.describe());
            if !header.started.get() {
                let _ = write!(out, " has not started (spawned at {})", header.spawned_at());
            } else if live && is_running(header) {
                out.push_str(" is running");
            } else if queued.contains(&header.wait.get()) {
                out.push_str(" is ready");
            } else {
                let _ = write!(out, " waits on {}", self.describe(self.reason(header)));
            }
        }
    }

    /// A wait in words: `Event::wait on 'jobs' at src/main.rs:9:11`.
    fn describe(&self, reason: WaitReason) -> String {
        let mut text = reason.what.to_string();
        if reason.object != 0 {
            match names::name_of(reason.object) {
                Some(name) => {
                    let _ = write!(text, " on '{name}'");
                }
                None => {
                    let _ = write!(text, " on {:#x}", reason.object);
                }
            }
        }
        if reason.target != 0 {
            let target = self
                .tasks
                .iter()
                .map(|(_, task)| task.header())
                .find(|header| header.id == reason.target);
            match target {
                Some(header) => {
                    let _ = write!(text, " ({})", header.describe());
                }
                None => {
                    let _ = write!(text, " (greenlet {}, finished)", reason.target);
                }
            }
        }
        let _ = write!(text, " at {}", reason.location());
        text
    }
}

/// Whether `header` is the running greenlet's.
fn is_running(header: &Header) -> bool {
    context::with_current(|current| current.is_some_and(|h| std::ptr::eq(h, header)))
}

/// The current thread's name, quoted, or its id.
fn thread_name() -> String {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) => format!("'{name}'"),
        None => format!("{:?}", thread.id()),
    }
}
