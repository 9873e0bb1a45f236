//! The cluster CA and per-host certificates (DESIGN §9; `cairnctl certs init|issue` in
//! `control-plane/src/bin/cairnctl.rs` calls [`init_ca`] and [`issue`]).
//!
//! Files in one directory, PEM:
//! - `ca.pem`, `ca.key`: the cluster CA (ECDSA P-256, path length 0: it signs host
//!   certificates only);
//! - `<host>.pem`, `<host>.key`: a host's certificate and key. The certificate names the host
//!   as its subject common name *and* as a DNS subject alternative name, carries any extra
//!   SANs asked for (DNS names or IP addresses), and has both the ServerAuth and ClientAuth
//!   extended key usages, so the same identity serves and dials (mutual TLS).
//!
//! Invariants: private keys are written with mode 0600 and [`load_identity`] refuses a key
//! readable by group or others; nothing existing is overwritten unless `replace` is set (and
//! then a file is replaced by rename, never truncated in place); a host name is a DNS name
//! (letters, digits, `-`, `.`), which also makes it a safe file name. A peer's identity is the
//! common name of its certificate, and only if that name is also one of its DNS SANs
//! ([`cert_host_name`]); the transport (`transport/tls.rs`) checks it on every connection.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, DnsName, PrivateKeyDer};

/// The CA certificate's file name.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA key's file name.
pub const CA_KEY_FILE: &str = "ca.key";
/// Years a certificate stays valid from the start of the current year.
pub const VALIDITY_YEARS: i32 = 10;

/// Why a certificate operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{0} already exists (pass replace to overwrite)")]
    Exists(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Pem(PathBuf, String),
    #[error("{0} is readable by group or others (mode {1:o}); chmod 600 it")]
    KeyPermissions(PathBuf, u32),
    #[error("host name {0:?} is not a DNS name")]
    BadHostName(String),
    #[error("subject alternative name {0:?} is neither a DNS name nor an IP address")]
    BadSan(String),
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("certificate has no usable host name: {0}")]
    NoHostName(String),
}

/// Where a certificate and its key were written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A host's TLS identity as the transport needs it.
#[derive(Debug)]
pub struct Identity {
    /// The host name (the certificate's common name).
    pub name: String,
    /// The cluster CA certificate (the only trust root).
    pub ca: CertificateDer<'static>,
    /// The host's certificate chain (its certificate first).
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Identity {
        Identity {
            name: self.name.clone(),
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// The paths of `host`'s certificate and key in `dir`.
pub fn host_paths(dir: &Path, host: &str) -> CertPaths {
    CertPaths {
        cert: dir.join(format!("{host}.pem")),
        key: dir.join(format!("{host}.key")),
    }
}

/// The paths of the CA's certificate and key in `dir`.
pub fn ca_paths(dir: &Path) -> CertPaths {
    CertPaths {
        cert: dir.join(CA_CERT_FILE),
        key: dir.join(CA_KEY_FILE),
    }
}

/// Checks that `host` is a DNS name usable as a TLS server name and a file name.
pub fn check_host_name(host: &str) -> Result<(), CertError> {
    let ok = !host.is_empty()
        && host.len() <= wire::peer::PEER_NAME_BYTES_MAX
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && DnsName::try_from(host).is_ok();
    if ok {
        Ok(())
    } else {
        Err(CertError::BadHostName(host.to_owned()))
    }
}

/// Creates the cluster CA in `dir` (created if missing).
pub fn init_ca(dir: &Path, replace: bool) -> Result<CertPaths, CertError> {
    let paths = ca_paths(dir);
    refuse_existing(&paths, replace)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let id: String = params.key_identifier(&key)[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("Cairn cluster CA {id}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params);
    let cert = params.self_signed(&key)?;
    write_pair(dir, &paths, &cert.pem(), &key.serialize_pem(), replace)?;
    Ok(paths)
}

/// Issues a certificate for `host` signed by the CA in `dir`, with `extra_sans` (DNS names or
/// IP addresses) besides the host name.
pub fn issue(
    dir: &Path,
    host: &str,
    extra_sans: &[String],
    replace: bool,
) -> Result<CertPaths, CertError> {
    check_host_name(host)?;
    let paths = host_paths(dir, host);
    refuse_existing(&paths, replace)?;
    let ca = ca_paths(dir);
    let ca_pem = read_string(&ca.cert)?;
    let ca_key = KeyPair::from_pem(&read_string(&ca.key)?)
        .map_err(|e| CertError::Pem(ca.key.clone(), e.to_string()))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)
        .map_err(|e| CertError::Pem(ca.cert.clone(), e.to_string()))?;

    let mut sans = vec![host.to_owned()];
    for san in extra_sans {
        if san.parse::<std::net::IpAddr>().is_err() && check_host_name(san).is_err() {
            return Err(CertError::BadSan(san.clone()));
        }
        if !sans.contains(san) {
            sans.push(san.clone());
        }
    }
    let mut params = CertificateParams::new(sans)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, host);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    write_pair(dir, &paths, &cert.pem(), &key.serialize_pem(), replace)?;
    Ok(paths)
}

/// Loads `host`'s identity (its certificate, key and the CA) from `dir`.
pub fn load_identity(dir: &Path, host: &str) -> Result<Identity, CertError> {
    check_host_name(host)?;
    let paths = host_paths(dir, host);
    let ca_path = ca_paths(dir).cert;
    let ca = CertificateDer::from_pem_file(&ca_path)
        .map_err(|e| CertError::Pem(ca_path.clone(), e.to_string()))?;
    let chain = CertificateDer::pem_file_iter(&paths.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| CertError::Pem(paths.cert.clone(), e.to_string()))?;
    let Some(leaf) = chain.first() else {
        return Err(CertError::Pem(paths.cert, "no certificate".to_owned()));
    };
    let name = cert_host_name(leaf)?;
    if name != host {
        return Err(CertError::NoHostName(format!(
            "{} names {name:?}, not {host:?}",
            paths.cert.display()
        )));
    }
    let mode = fs::metadata(&paths.key)
        .map_err(|e| CertError::Io(paths.key.clone(), e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(CertError::KeyPermissions(paths.key, mode & 0o777));
    }
    let key = PrivateKeyDer::from_pem_file(&paths.key)
        .map_err(|e| CertError::Pem(paths.key.clone(), e.to_string()))?;
    Ok(Identity {
        name,
        ca,
        chain,
        key,
    })
}

/// The host name a certificate speaks for: its subject common name, which must also be one of
/// its DNS subject alternative names and a valid host name.
pub fn cert_host_name(cert: &CertificateDer<'_>) -> Result<String, CertError> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, parsed) = X509Certificate::from_der(cert.as_ref())
        .map_err(|e| CertError::NoHostName(format!("unparseable certificate: {e}")))?;
    let cn = parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or_else(|| CertError::NoHostName("no common name".to_owned()))?
        .to_owned();
    let in_sans = match parsed.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .any(|n| matches!(n, GeneralName::DNSName(d) if *d == cn)),
        _ => false,
    };
    if !in_sans {
        return Err(CertError::NoHostName(format!(
            "common name {cn:?} is not among the DNS names"
        )));
    }
    check_host_name(&cn)
        .map_err(|_| CertError::NoHostName(format!("{cn:?} is not a host name")))?;
    Ok(cn)
}

fn set_validity(params: &mut CertificateParams) {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    // Start of last year: safely before now whatever the clock skew between hosts.
    let year = 1970 + (days * 400 / 146_097) as i32 - 1;
    params.not_before = date_time_ymd(year, 1, 1);
    params.not_after = date_time_ymd(year + 1 + VALIDITY_YEARS, 1, 1);
}

fn refuse_existing(paths: &CertPaths, replace: bool) -> Result<(), CertError> {
    if replace {
        return Ok(());
    }
    for p in [&paths.cert, &paths.key] {
        if p.exists() {
            return Err(CertError::Exists(p.clone()));
        }
    }
    Ok(())
}

fn read_string(path: &Path) -> Result<String, CertError> {
    fs::read_to_string(path).map_err(|e| CertError::Io(path.to_owned(), e))
}

/// Writes the key (0600) first, then the certificate (0644).
fn write_pair(
    dir: &Path,
    paths: &CertPaths,
    cert_pem: &str,
    key_pem: &str,
    replace: bool,
) -> Result<(), CertError> {
    fs::create_dir_all(dir).map_err(|e| CertError::Io(dir.to_owned(), e))?;
    write_file(&paths.key, key_pem.as_bytes(), 0o600, replace)?;
    write_file(&paths.cert, cert_pem.as_bytes(), 0o644, replace)
}

/// Without `replace`: `create_new`, so an existing file is never touched. With it: a fresh
/// temporary file renamed over the old one.
fn write_file(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<(), CertError> {
    let io = |e| CertError::Io(path.to_owned(), e);
    let target = if replace {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let _ = fs::remove_file(&tmp);
        tmp
    } else {
        path.to_owned()
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&target)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                CertError::Exists(path.to_owned())
            } else {
                CertError::Io(path.to_owned(), e)
            }
        })?;
    // The umask may have narrowed the mode; set it exactly.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    if replace {
        fs::rename(&target, path).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::test_support::TestDir;

    #[test]
    fn init_issue_load_and_refuse_overwrite() {
        let dir = TestDir::new("certs-basic");
        let ca = init_ca(dir.path(), false).unwrap();
        assert!(matches!(
            init_ca(dir.path(), false),
            Err(CertError::Exists(_))
        ));
        let host = issue(
            dir.path(),
            "node-1.az1",
            &["127.0.0.1".into(), "localhost".into()],
            false,
        )
        .unwrap();
        for (p, want) in [
            (&ca.key, 0o600),
            (&ca.cert, 0o644),
            (&host.key, 0o600),
            (&host.cert, 0o644),
        ] {
            let mode = fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, want, "{}", p.display());
        }
        let before = fs::read(&host.cert).unwrap();
        assert!(matches!(
            issue(dir.path(), "node-1.az1", &[], false),
            Err(CertError::Exists(_))
        ));
        assert_eq!(
            fs::read(&host.cert).unwrap(),
            before,
            "refused issue touched the file"
        );
        issue(dir.path(), "node-1.az1", &[], true).unwrap();
        assert_ne!(
            fs::read(&host.cert).unwrap(),
            before,
            "replace did not replace"
        );

        let id = load_identity(dir.path(), "node-1.az1").unwrap();
        assert_eq!(id.name, "node-1.az1");
        assert_eq!(cert_host_name(&id.chain[0]).unwrap(), "node-1.az1");
        // The CA is no host.
        assert!(cert_host_name(&id.ca).is_err());

        fs::set_permissions(&host.key, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_identity(dir.path(), "node-1.az1"),
            Err(CertError::KeyPermissions(_, 0o644))
        ));
    }

    #[test]
    fn bad_names_are_refused() {
        let dir = TestDir::new("certs-names");
        init_ca(dir.path(), false).unwrap();
        for bad in ["", "../x", "a/b", "a b", "a..b", "-x"] {
            assert!(
                matches!(
                    issue(dir.path(), bad, &[], false),
                    Err(CertError::BadHostName(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            issue(dir.path(), "ok", &["not a name".into()], false),
            Err(CertError::BadSan(_))
        ));
        let missing = TestDir::new("certs-noca");
        assert!(matches!(
            issue(missing.path(), "n1", &[], false),
            Err(CertError::Io(..))
        ));
    }
}
