//! Running a router on a local port.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::faults::{FaultController, apply_faults};

/// A server running in the background of the current tokio runtime. Dropping it stops it.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Binds `addr` (port 0 picks a free port) and serves `router` there.
    pub async fn start(router: Router, addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            // Serving only ends with an error when the listener itself fails.
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { addr, task })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves until the task is stopped (for the command line).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A running emulator of one vendor: its server, its state, and its fault injection.
/// `SunshineEmulator`, `CaptureEmulator` and `LumAppsEmulator` are this type with each
/// vendor's state; dropping one stops it.
#[derive(Debug)]
pub struct Emulator<S> {
    server: RunningServer,
    state: Arc<S>,
    faults: FaultController,
}

impl<S> Emulator<S> {
    /// Serves a vendor's routes on `addr`, faults applied before anything else.
    pub(crate) async fn serve(router: Router, state: Arc<S>, addr: SocketAddr) -> io::Result<Self> {
        let faults = FaultController::new();
        let router = router.layer(middleware::from_fn_with_state(faults.clone(), apply_faults));
        let server = RunningServer::start(router, addr).await?;
        Ok(Self {
            server,
            state,
            faults,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Its fault injection.
    pub fn faults(&self) -> &FaultController {
        &self.faults
    }

    pub(crate) fn state(&self) -> &S {
        &self.state
    }

    /// Serves until the process is stopped.
    pub async fn wait(self) {
        self.server.wait().await;
    }
}
