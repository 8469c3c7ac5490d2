//! The page size every other file of the stack layer counts in.

use std::sync::Once;

/// The size of a page, and of a guard. Checked against the kernel's when the
/// first region is made.
pub(in crate::stack) const PAGE: usize = 4096;

/// Panics unless the kernel's page size is [`PAGE`].
pub(super) fn check_page_size() {
    static CHECKED: Once = Once::new();
    CHECKED.call_once(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        assert_eq!(
            page, PAGE as libc::c_long,
            "greenlet: stacks need {PAGE}-byte pages"
        );
    });
}
