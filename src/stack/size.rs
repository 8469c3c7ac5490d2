//! Stack sizes: the default, the smallest and the largest a caller may ask
//! for, the one check of a requested size, and how a request rounds up to
//! the usable size of the slot that holds it.

use std::io;

use super::sys::PAGE;

/// The usable size of a stack when none is chosen: 256 KiB.
///
/// Only the pages a body touches become resident (usually one or two), so a
/// generous size costs address space, not memory. It leaves room for a panic
/// with a backtrace, which needs far more stack than most bodies do (see
/// `design.md`).
///
/// # Examples
///
/// ```
/// assert_eq!(greenlet::DEFAULT_STACK_SIZE, 256 * 1024);
/// ```
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The smallest usable stack size; smaller requests are rounded up to it.
///
/// A body that panics needs this much to print its message and backtrace
/// (measured in `tests/generator.rs`, `panic_on_smallest_stack`).
///
/// # Examples
///
/// ```
/// let g = greenlet::Builder::new().stack_size(1).spawn(|| "tiny")?; // gets 64 KiB
/// assert_eq!(g.join().unwrap(), "tiny");
/// # Ok::<(), std::io::Error>(())
/// ```
pub const MIN_STACK_SIZE: usize = 64 * 1024;

/// The largest stack that can be asked for: 1 GiB.
pub(in crate::stack) const MAX_STACK_SIZE: usize = 1 << 30;

/// Checks a requested stack size against the 1 GiB limit, and returns it.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`] for a size above 1 GiB, with a message
/// naming the size and the limit.
#[inline]
pub(crate) fn check_stack_size(bytes: usize) -> io::Result<usize> {
    if bytes > MAX_STACK_SIZE {
        return Err(too_large(bytes));
    }
    Ok(bytes)
}

#[cold]
fn too_large(bytes: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("greenlet: a stack of {bytes} bytes is above the 1 GiB limit"),
    )
}

/// Rounds a requested size up to what a stack of that request really holds:
/// at least [`MIN_STACK_SIZE`], in whole pages.
///
/// # Panics
///
/// Panics on overflow; sizes above [`MAX_STACK_SIZE`] are refused before.
#[inline]
pub(crate) fn usable_size(requested: usize) -> usize {
    requested.max(MIN_STACK_SIZE).next_multiple_of(PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_pages_and_the_minimum() {
        assert_eq!(usable_size(0), MIN_STACK_SIZE);
        assert_eq!(usable_size(MIN_STACK_SIZE + 1), MIN_STACK_SIZE + PAGE);
        assert_eq!(usable_size(DEFAULT_STACK_SIZE), DEFAULT_STACK_SIZE);
    }

    #[test]
    fn sizes_up_to_the_limit_pass_the_check() {
        assert_eq!(check_stack_size(MAX_STACK_SIZE).unwrap(), MAX_STACK_SIZE);
        let err = check_stack_size(MAX_STACK_SIZE + 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("1 GiB"), "{err}");
    }
}
