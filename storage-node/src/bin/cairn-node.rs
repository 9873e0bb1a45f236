//! `cairn-node`: one storage node (see `storage_node::node` and `cairn-node --help`).
//! Exit codes: 0 after a stop signal, 2 for bad configuration, 70 when storage or
//! identity failed (systemd restarts it).

use clap::Parser;
use storage_node::node::{NodeError, config::NodeArgs, run};

/// mimalloc instead of glibc malloc: see the workspace Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = NodeArgs::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = match rt.block_on(run(args)) {
        Ok(()) => 0,
        Err(e @ NodeError::Config(_)) => {
            tracing::error!(error = %e, "bad configuration");
            2
        }
        Err(e) => {
            tracing::error!(error = %e, "cairn-node stopped");
            70
        }
    };
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::exit(code);
}
