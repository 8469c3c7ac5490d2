//! The trait impls the green socket types share, written once as macros (as
//! std's `impl_as_raw_fd!`). Each type is a newtype over
//! [`Socket`](super::socket::Socket) whose field is `.0`.

/// Implements, for a green socket type `$T` over std's type `$Std`:
/// `From<$Std>`, `From<OwnedFd>`, `From<$T> for OwnedFd`, `FromRawFd`,
/// `IntoRawFd`, `AsFd`, `AsRawFd`, and `Debug` showing the named address
/// methods and the descriptor.
macro_rules! socket_traits {
    ($T:ident, $Std:ty, debug { $($field:literal => $addr:ident),* }) => {
        impl ::std::convert::From<$Std> for $T {
            /// Takes over a std socket: it is switched to non-blocking mode
            /// and registered with this thread's hub.
            ///
            /// # Panics
            ///
            /// Panics if the kernel refuses either step (out of memory or
            /// descriptors); the constructors return the error instead.
            fn from(socket: $Std) -> $T {
                $T($crate::net::socket::Socket::adopt(socket, stringify!($T)))
            }
        }

        impl ::std::convert::From<::std::os::fd::OwnedFd> for $T {
            /// Takes over a socket's descriptor, as `From` of std's type
            /// does. As with std, the descriptor must be a socket of this
            /// kind.
            ///
            /// # Panics
            ///
            /// As `From` of std's type; also when the descriptor cannot be
            /// watched (it is no socket).
            fn from(fd: ::std::os::fd::OwnedFd) -> $T {
                $T::from(<$Std>::from(fd))
            }
        }

        impl ::std::convert::From<$T> for ::std::os::fd::OwnedFd {
            /// Leaves the hub and hands over the descriptor, still in
            /// non-blocking mode (`into_std` returns a blocking std socket).
            /// While clones made by `try_clone` are alive they keep the
            /// socket, and this returns a duplicate of the descriptor: it
            /// shares their open file description, so leave it in
            /// non-blocking mode (a clone over a blocking descriptor would
            /// block the thread).
            ///
            /// # Panics
            ///
            /// Panics if the descriptor must be duplicated and the kernel
            /// refuses (out of descriptors).
            fn from(socket: $T) -> ::std::os::fd::OwnedFd {
                socket.0.into_fd()
            }
        }

        impl ::std::os::fd::FromRawFd for $T {
            /// Takes over a raw descriptor, as `From<OwnedFd>` does.
            ///
            /// # Safety
            ///
            /// As std's: `fd` must be an open socket of this kind that
            /// nothing else owns or closes.
            unsafe fn from_raw_fd(fd: ::std::os::fd::RawFd) -> $T {
                // SAFETY: the caller hands over an open descriptor that
                // nothing else owns, as this function's contract requires.
                let fd = unsafe { <::std::os::fd::OwnedFd as ::std::os::fd::FromRawFd>::from_raw_fd(fd) };
                $T::from(fd)
            }
        }

        impl ::std::os::fd::IntoRawFd for $T {
            /// As `From<Self> for OwnedFd`, leaving the caller to close the
            /// descriptor.
            fn into_raw_fd(self) -> ::std::os::fd::RawFd {
                ::std::os::fd::IntoRawFd::into_raw_fd(::std::os::fd::OwnedFd::from(self))
            }
        }

        impl ::std::os::fd::AsFd for $T {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(self.0.get())
            }
        }

        impl ::std::os::fd::AsRawFd for $T {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(self.0.get())
            }
        }

        impl ::std::fmt::Debug for $T {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($T))
                    $(.field($field, &self.$addr().ok()))*
                    .field("fd", &::std::os::fd::AsRawFd::as_raw_fd(self))
                    .finish()
            }
        }
    };
}

/// Implements `Read` and `Write` on `$T` and on `&$T`, for the byte-stream
/// types: `&$T` does the work, so one greenlet may read a stream while
/// another writes it through a shared reference.
macro_rules! stream_io {
    ($T:ident) => {
        impl ::std::io::Read for &$T {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                self.0.read_stream(buf)
            }

            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::io::Result<usize> {
                self.0.read_vectored(bufs)
            }
        }

        impl ::std::io::Write for &$T {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                self.0.write_stream(buf)
            }

            #[track_caller]
            fn write_vectored(
                &mut self,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::io::Result<usize> {
                self.0.write_vectored(bufs)
            }

            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(()) // a socket has no user-space buffer
            }
        }

        impl ::std::io::Read for $T {
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                ::std::io::Read::read(&mut &*self, buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::io::Result<usize> {
                ::std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }

        impl ::std::io::Write for $T {
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                ::std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(
                &mut self,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::io::Result<usize> {
                ::std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(())
            }
        }
    };
}

/// Defines `$Incoming`, the endless iterator of `$Listener::incoming`,
/// whose items are the accepted `$Stream`s.
macro_rules! incoming {
    ($Incoming:ident, $Listener:ident, $Stream:ident) => {
        #[doc = concat!("The iterator of [`", stringify!($Listener), "::incoming`]: each item is")]
        #[doc = concat!("[`", stringify!($Listener), "::accept`]'s stream; it never returns `None`.")]
        #[derive(Debug)]
        pub struct $Incoming<'a> {
            listener: &'a $Listener,
        }

        impl ::std::iter::Iterator for $Incoming<'_> {
            type Item = ::std::io::Result<$Stream>;

            #[track_caller]
            fn next(&mut self) -> ::std::option::Option<::std::io::Result<$Stream>> {
                Some(self.listener.accept().map(|(stream, _)| stream))
            }
        }
    };
}

pub(crate) use {incoming, socket_traits, stream_io};
