//! The [`crate::Io`] trait, implemented once for every backend: the core
//! serves the operations, the loop and the events; the backend serves only
//! what it opens synchronously (sockets, directories, data files) and the
//! address look-ups.

/// Implements `Io` for `$backend<C>`, which implements `Backend`.
macro_rules! impl_io {
    ($backend:ident) => {
        impl<C> $crate::io::Io for $backend<C> {
            type Context = C;

            #[inline]
            fn now_ns(&self) -> u64 {
                $crate::engine::Backend::local_clock_ns(self)
            }

            fn flush(&mut self, ctx: &mut C, wait: bool) -> Result<(), $crate::error::RunError> {
                $crate::engine::run::flush(self, ctx, wait, None)
            }

            fn run_for_ns(&mut self, ctx: &mut C, ns: u64) -> Result<(), $crate::error::RunError> {
                $crate::engine::run::run_for_ns(self, ctx, ns)
            }

            fn run_once(&mut self, ctx: &mut C) -> Result<(), $crate::error::RunError> {
                $crate::engine::run::run_until(
                    self,
                    ctx,
                    $crate::engine::run::Until::OneCallback,
                    None,
                )
            }

            fn run_until_done(&mut self, ctx: &mut C) -> Result<(), $crate::error::RunError> {
                $crate::engine::run::run_until(self, ctx, $crate::engine::run::Until::Done, None)
            }

            fn run_once_within(
                &mut self,
                ctx: &mut C,
                ns: u64,
            ) -> Result<(), $crate::error::RunError> {
                $crate::engine::run::run_until(
                    self,
                    ctx,
                    $crate::engine::run::Until::OneCallback,
                    Some(ns),
                )
            }

            fn run_until_done_within(
                &mut self,
                ctx: &mut C,
                ns: u64,
            ) -> Result<(), $crate::error::RunError> {
                $crate::engine::run::run_until(
                    self,
                    ctx,
                    $crate::engine::run::Until::Done,
                    Some(ns),
                )
            }

            fn stop(&mut self) {
                $crate::engine::Backend::core_mut(self).stop_requested = true;
            }

            fn in_flight(&self) -> usize {
                $crate::engine::Backend::core(self).in_flight()
            }

            fn cancel(
                &mut self,
                target: $crate::fd::OpId,
            ) -> Result<(), $crate::error::CancelError> {
                $crate::engine::control::cancel(self, target)
            }

            fn cancel_all(&mut self) -> usize {
                $crate::engine::control::cancel_all(self)
            }

            fn reset_timeout(
                &mut self,
                target: $crate::fd::OpId,
                ns: u64,
            ) -> Result<(), $crate::error::CancelError> {
                $crate::engine::control::reset_timeout(self, target, ns)
            }

            fn accept(
                &mut self,
                listener: $crate::fd::Fd,
                tag: u64,
                callback: $crate::io::Callback<Self, $crate::done::AcceptDone>,
            ) -> Result<$crate::fd::OpId, $crate::error::SubmitError> {
                let fd = $crate::engine::check_fd(listener)?;
                $crate::engine::submit::plain(
                    self,
                    $crate::engine::op::Op::Accept { fd, tag, callback },
                )
            }

            fn connect(
                &mut self,
                socket: $crate::fd::Fd,
                address: std::net::SocketAddr,
                tag: u64,
                callback: $crate::io::Callback<Self, $crate::done::ConnectDone>,
            ) -> Result<$crate::fd::OpId, $crate::error::SubmitError> {
                let fd = $crate::engine::check_fd(socket)?;
                let op =
                    $crate::engine::op::Op::Connect { fd, address, started: false, tag, callback };
                $crate::engine::submit::plain(self, op)
            }

            fn recv(
                &mut self,
                socket: $crate::fd::Fd,
                buffer: $crate::buffer::Buffer,
                range: impl std::ops::RangeBounds<usize>,
                tag: u64,
                callback: $crate::io::Callback<Self, $crate::done::RecvDone>,
            ) -> Result<$crate::fd::OpId, $crate::error::Rejected<$crate::buffer::Buffer>> {
                $crate::engine::submit::span(self, socket, buffer, range, None, |fd, span| {
                    $crate::engine::op::Op::Recv { fd, span, tag, callback }
                })
            }

            fn send(
                &mut self,
                socket: $crate::fd::Fd,
                buffer: $crate::buffer::Buffer,
                range: impl std::ops::RangeBounds<usize>,
                tag: u64,
                callback: $crate::io::Callback<Self, $crate::done::SendDone>,
            ) -> Result<$crate::fd::OpId, $crate::error::Rejected<$crate::buffer::Buffer>> {
                $crate::engine::submit::span(self, socket, buffer, range, None, |fd, span| {
                    $crate::engine::op::Op::Send { fd, span, tag, callback }
                })
            }

            fn read(
                &mut self,
                fd: $crate::fd::Fd,
                buffer: $crate::buffer::Buffer,
                range: impl std::ops::RangeBounds<usize>,
                offset: u64,
                tag: u64,
                callback: $crate::io::Callback<Self, $crate::done::ReadDone>,
            ) -> Result<$crate::fd::OpId, $crate::error::Rejected<$crate::buffer::Buffer>> {
                $crate::engine::submit::span(self, fd, buffer, range, Some(offset), |fd, span| {
                    $crate::engine::op::Op::Read { fd, span, offset, tag, callback }
                })
            }

            fn write(
                &mut self,
                fd: $crate::fd::Fd,
                buffer: $crate::buffer::Buffer,
                range: impl std::ops::RangeBounds<usize>,
                offset: u64,
                tag: u64,
                callback: $crate::io::Callback<Self, $crate::done::WriteDone>,
            ) -> Result<$crate::fd::OpId, $crate::error::Rejected<$crate::buffer::Buffer>> {
                $crate::engine::submit::span(self, fd, buffer, range, Some(offset), |fd, span| {
                    $crate::engine::op::Op::Write { fd, span, offset, tag, callback }
                })
            }

            fn fsync(
                &mut self,
                fd: $crate::fd::Fd,
                mode: $crate::options::FsyncMode,
                tag: u64,
                callback: $crate::io::Callback<Self, $crate::done::FsyncDone>,
            ) -> Result<$crate::fd::OpId, $crate::error::SubmitError> {
                let fd = $crate::engine::check_fd(fd)?;
                $crate::engine::submit::plain(
                    self,
                    $crate::engine::op::Op::Fsync { fd, mode, tag, callback },
                )
            }

            fn close(
                &mut self,
                fd: $crate::fd::Fd,
                tag: u64,
                callback: $crate::io::Callback<Self, $crate::done::CloseDone>,
            ) -> Result<$crate::fd::OpId, $crate::error::SubmitError> {
                let fd = $crate::engine::check_fd(fd)?;
                let op =
                    $crate::engine::op::Op::Close { fd, waiters_canceled: false, tag, callback };
                $crate::engine::submit::plain(self, op)
            }

            fn timeout(
                &mut self,
                ns: u64,
                tag: u64,
                callback: $crate::io::Callback<Self, $crate::done::TimeoutDone>,
            ) -> Result<$crate::fd::OpId, $crate::error::SubmitError> {
                $crate::engine::submit::timeout(self, ns, tag, callback)
            }

            fn open_socket(
                &mut self,
                family: $crate::options::AddressFamily,
                options: $crate::options::SocketOptions,
            ) -> Result<$crate::fd::Fd, $crate::error::SocketError> {
                $backend::do_open_socket(self, family, options)
            }

            fn listen(
                &mut self,
                socket: $crate::fd::Fd,
                address: std::net::SocketAddr,
                backlog: u32,
            ) -> Result<std::net::SocketAddr, $crate::error::ListenError> {
                $backend::do_listen(self, socket, address, backlog)
            }

            fn shutdown(
                &mut self,
                socket: $crate::fd::Fd,
                how: $crate::options::Shutdown,
            ) -> Result<(), $crate::error::ShutdownError> {
                $backend::do_shutdown(self, socket, how)
            }

            fn local_address(
                &self,
                socket: $crate::fd::Fd,
            ) -> Result<std::net::SocketAddr, $crate::error::AddressError> {
                $backend::do_address(self, socket, $crate::engine::Side::Local)
            }

            fn peer_address(
                &self,
                socket: $crate::fd::Fd,
            ) -> Result<std::net::SocketAddr, $crate::error::AddressError> {
                $backend::do_address(self, socket, $crate::engine::Side::Peer)
            }

            fn open_dir(
                &mut self,
                path: &std::path::Path,
            ) -> Result<$crate::fd::Fd, $crate::error::OpenError> {
                $backend::do_open_dir(self, path)
            }

            fn open_data_file(
                &mut self,
                dir: $crate::fd::Fd,
                relative_path: &std::path::Path,
                size: u64,
                purpose: $crate::options::FilePurpose,
                direct_io: $crate::options::DirectIo,
            ) -> Result<$crate::fd::Fd, $crate::error::OpenError> {
                $backend::do_open_data_file(self, dir, relative_path, size, purpose, direct_io)
            }

            fn open_event(&mut self) -> Result<$crate::fd::EventId, $crate::error::EventError> {
                $crate::engine::events::open(self)
            }

            fn event_listen(
                &mut self,
                event: $crate::fd::EventId,
                tag: u64,
                callback: $crate::io::Callback<Self, $crate::done::EventDone>,
            ) -> Result<$crate::fd::OpId, $crate::error::SubmitError> {
                $crate::engine::events::listen(self, event, tag, callback)
            }

            fn event_trigger(
                &mut self,
                event: $crate::fd::EventId,
            ) -> Result<(), $crate::error::EventError> {
                $crate::engine::events::trigger(self, event)
            }

            fn close_event(
                &mut self,
                event: $crate::fd::EventId,
            ) -> Result<(), $crate::error::EventError> {
                $crate::engine::events::close(self, event)
            }
        }
    };
}

pub(crate) use impl_io;
