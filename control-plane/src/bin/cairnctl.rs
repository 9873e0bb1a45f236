//! `cairnctl`: the operator CLI (DESIGN §1, §8, §9).
//!
//! Subcommands so far:
//! - `cairnctl certs init --dir D [--force]`: create the cluster CA (`D/ca.pem`, `D/ca.key`).
//! - `cairnctl certs issue --dir D --host NAME [--san S]... [--force]`: create `D/NAME.pem` and
//!   `D/NAME.key`, signed by the CA in `D`, for a node or control-plane host.
//!
//! The work is done by `storage-node/src/transport/certs.rs` (the transport that uses the
//! certificates lives there too); this file only parses arguments and reports. Nothing is
//! overwritten without `--force`. New subcommands (tables, nodes, drains) are added as
//! variants of [`Command`], each with its own `run_*` function.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use storage_node::transport::certs;

#[derive(Parser, Debug)]
#[command(name = "cairnctl", version, about = "Operate a Cairn cluster")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The cluster CA and per-host certificates for mutual TLS between processes.
    #[command(subcommand)]
    Certs(CertsCommand),
}

#[derive(Subcommand, Debug)]
enum CertsCommand {
    /// Create the cluster CA in DIR (ca.pem, ca.key).
    Init {
        /// Directory for the CA and host certificates (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// Replace an existing CA (every host certificate must then be reissued).
        #[arg(long)]
        force: bool,
    },
    /// Issue a certificate for a host, signed by the CA in DIR (HOST.pem, HOST.key).
    Issue {
        /// Directory holding the CA; the host's files are written there.
        #[arg(long)]
        dir: PathBuf,
        /// The host's name (a DNS name); it is the host's identity in the cluster.
        #[arg(long)]
        host: String,
        /// An extra subject alternative name (DNS name or IP address); repeatable.
        #[arg(long = "san")]
        sans: Vec<String>,
        /// Replace an existing certificate for this host.
        #[arg(long)]
        force: bool,
    },
}

fn run_certs(cmd: CertsCommand) -> Result<(), certs::CertError> {
    match cmd {
        CertsCommand::Init { dir, force } => {
            let paths = certs::init_ca(&dir, force)?;
            println!(
                "created {} and {}",
                paths.cert.display(),
                paths.key.display()
            );
        }
        CertsCommand::Issue {
            dir,
            host,
            sans,
            force,
        } => {
            let paths = certs::issue(&dir, &host, &sans, force)?;
            println!(
                "created {} and {}",
                paths.cert.display(),
                paths.key.display()
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Certs(cmd) => run_certs(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairnctl: {e}");
            ExitCode::FAILURE
        }
    }
}
