//! Connecting to PostgreSQL as `psql` does: a `postgres://` (or `postgresql://`) URL, the
//! libpq variables for what it leaves out, and TLS through rustls.
//!
//! What the URL does not say comes from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
//! `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGAPPNAME` and `PGCONNECT_TIMEOUT`, as
//! with libpq. Two choices differ from libpq's defaults, for a tool that carries every
//! synced person's data:
//!
//! - TLS is verified (`sslmode=verify-full`) for any host that is not loopback (or a
//!   Unix socket), unless the URL or `PGSSLMODE` says otherwise. The trust roots are
//!   `sslrootcert` (or `PGSSLROOTCERT`), else `~/.postgresql/root.crt`, else the system's
//!   (`sslrootcert=system` asks for those).
//! - A password is never shown: [`PgTarget::describe`] names user, host, port and
//!   database only, and errors name the target that way.
//!
//! One parameter is this tool's own: `schema` (default `profiles`), the schema the state
//! keeps its tables in; it is taken out before the URL reaches the server.
//!
//! ```
//! use profile_sync::pg::PgTarget;
//!
//! let target = PgTarget::parse("postgres://sync:s3cret@db.internal:6432/ops?schema=nightly").unwrap();
//! assert_eq!(target.describe(), "postgres://sync@db.internal:6432/ops");
//! assert_eq!(target.schema(), "nightly");
//! assert!(!target.describe().contains("s3cret"));
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::{Host, SslMode};

/// Whether a text is a PostgreSQL URL (`postgres://…` or `postgresql://…`).
pub fn is_url(text: &str) -> bool {
    let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// What went wrong reaching PostgreSQL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The URL (or a libpq variable) cannot be used.
    #[error("{0}")]
    Url(String),
    /// The server cannot be reached, or refused us.
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// The server, without its password.
        target: String,
        /// Why, in words.
        message: String,
    },
}

/// How TLS is used, libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsMode {
    Disable,
    /// `allow` and `prefer`: TLS when the server offers it, not verified.
    Prefer,
    /// TLS, not verified.
    Require,
    /// TLS, the certificate's chain verified, not its name.
    VerifyCa,
    /// TLS, chain and name verified.
    VerifyFull,
}

/// A PostgreSQL server and database to connect to; see the [module](self) docs.
#[derive(Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    tls: TlsMode,
    root_cert: Option<String>,
    schema: String,
    describe: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("target", &self.describe)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl PgTarget {
    /// The target a URL names, with the libpq variables for what it leaves out.
    pub fn parse(url: &str) -> Result<Self, PgError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let (mut sslmode, mut root_cert, mut schema) = (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "sslmode" => sslmode = Some(percent_decode(value)),
                "sslrootcert" => root_cert = Some(percent_decode(value)),
                "schema" => schema = Some(percent_decode(value)),
                _ => kept.push(pair),
            }
        }
        let base = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        // tokio-postgres' own message may quote the URL, password included: it is not shown.
        let mut config: tokio_postgres::Config = base.parse().map_err(|_| {
            PgError::Url(format!(
                "{} is not a PostgreSQL URL this tool can read (postgres://USER@HOST:PORT/DATABASE?sslmode=…)",
                redact(url)
            ))
        })?;
        if config.get_hosts().is_empty() {
            match env("PGHOST") {
                Some(hosts) => {
                    for host in hosts.split(',') {
                        config.host(host.trim());
                    }
                }
                None => {
                    config.host("localhost");
                }
            }
        }
        if config.get_ports().is_empty() {
            if let Some(port) = env("PGPORT") {
                let port = port
                    .parse()
                    .map_err(|_| PgError::Url(format!("PGPORT `{port}` is not a port")))?;
                config.port(port);
            }
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .or_else(|| env("USER"))
                .unwrap_or_else(|| "postgres".to_owned());
            config.user(&user);
        }
        if config.get_password().is_none() {
            if let Some(password) = env("PGPASSWORD") {
                config.password(password);
            }
        }
        if config.get_dbname().is_none() {
            let name = env("PGDATABASE")
                .or_else(|| config.get_user().map(str::to_owned))
                .unwrap_or_else(|| "postgres".to_owned());
            config.dbname(&name);
        }
        if config.get_application_name().is_none() {
            config.application_name(env("PGAPPNAME").unwrap_or_else(|| "profiles".to_owned()));
        }
        if config.get_connect_timeout().is_none() {
            let seconds = env("PGCONNECT_TIMEOUT")
                .and_then(|s| s.parse().ok())
                .unwrap_or(10);
            config.connect_timeout(Duration::from_secs(seconds));
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        let loopback = config.get_hosts().iter().all(|host| match host {
            Host::Tcp(name) => {
                name == "localhost"
                    || name
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            #[cfg(unix)]
            Host::Unix(_) => true,
        });
        let tls = match sslmode.or_else(|| env("PGSSLMODE")).as_deref() {
            Some("disable") => TlsMode::Disable,
            Some("allow" | "prefer") => TlsMode::Prefer,
            Some("require") => TlsMode::Require,
            Some("verify-ca") => TlsMode::VerifyCa,
            Some("verify-full") => TlsMode::VerifyFull,
            Some(other) => {
                return Err(PgError::Url(format!(
                    "sslmode `{other}` is not disable, allow, prefer, require, verify-ca or verify-full"
                )));
            }
            None if loopback => TlsMode::Prefer,
            None => TlsMode::VerifyFull,
        };
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        let schema = schema.unwrap_or_else(|| "profiles".to_owned());
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !schema.starts_with(|c: char| c.is_ascii_digit())
            && !schema.starts_with("pg_");
        if !valid {
            return Err(PgError::Url(format!(
                "schema `{schema}` is not a schema name this tool uses: lowercase letters, digits and _, not starting with a digit or pg_"
            )));
        }
        let describe = describe(&config);
        Ok(Self {
            config,
            tls,
            root_cert: root_cert.or_else(|| env("PGSSLROOTCERT")),
            schema,
            describe,
        })
    }

    /// `postgres://USER@HOST:PORT/DATABASE`: never the password.
    pub fn describe(&self) -> String {
        self.describe.clone()
    }

    /// The schema the state keeps its tables in (`profiles`, or the URL's `schema`).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Connects; the connection's task runs on the current Tokio runtime until the client
    /// is dropped or the connection is lost.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, PgError> {
        let failed = |message: String| PgError::Connect {
            target: self.describe.clone(),
            message,
        };
        let client = if self.tls == TlsMode::Disable {
            let (client, connection) = self
                .config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| failed(words(&e)))?;
            tokio::spawn(async move { drop(connection.await) });
            client
        } else {
            let tls =
                tokio_postgres_rustls::MakeRustlsConnect::new(self.tls_config().map_err(failed)?);
            let (client, connection) = self
                .config
                .connect(tls)
                .await
                .map_err(|e| failed(words(&e)))?;
            tokio::spawn(async move { drop(connection.await) });
            client
        };
        Ok(client)
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let verify = matches!(self.tls, TlsMode::VerifyCa | TlsMode::VerifyFull);
        if !verify {
            return Ok(builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
                .with_no_client_auth());
        }
        let roots = Arc::new(self.roots()?);
        let full = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| format!("TLS: {e}"))?;
        Ok(if self.tls == TlsMode::VerifyCa {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(full)))
                .with_no_client_auth()
        } else {
            builder.with_webpki_verifier(full).with_no_client_auth()
        })
    }

    fn roots(&self) -> Result<rustls::RootCertStore, String> {
        let mut roots = rustls::RootCertStore::empty();
        let home = env("HOME").map(|h| PathBuf::from(h).join(".postgresql/root.crt"));
        let file = match self.root_cert.as_deref() {
            Some("system") => None,
            Some(path) => Some(PathBuf::from(path)),
            None => home.filter(|p| p.exists()),
        };
        match file {
            Some(path) => {
                use rustls::pki_types::pem::PemObject;
                let certs = CertificateDer::pem_file_iter(&path)
                    .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
                for cert in certs {
                    let cert = cert
                        .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for cert in found.certs {
                    let _ = roots.add(cert);
                }
            }
        }
        if roots.is_empty() {
            return Err(
                "TLS is to be verified and no trust root was found: give sslrootcert=FILE (or PGSSLROOTCERT), or sslmode=require to encrypt without verifying".into(),
            );
        }
        Ok(roots)
    }
}

/// The URL with its password left out, for a message about a URL that cannot be read.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the URL".to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!(
                "{scheme}://{user}@{host}{}",
                tail.split('?').next().unwrap_or("")
            )
        }
        None => format!(
            "{scheme}://{authority}{}",
            tail.split('?').next().unwrap_or("")
        ),
    }
}

fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",");
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

/// A tokio-postgres error in words: the server's own message when it sent one, else the
/// client's (never the configuration, which holds the password).
pub(crate) fn words(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = inner.source();
    }
    text
}

/// `allow`, `prefer` and `require`: encrypted, any certificate (as libpq).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain verified, the name not.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_host_is_verified_and_loopback_is_not_unless_the_url_says() {
        let remote = PgTarget::parse("postgres://u:pw@db.example.com/x").unwrap();
        assert_eq!(remote.tls, TlsMode::VerifyFull);
        let local = PgTarget::parse("postgres://u@127.0.0.1:5432/x").unwrap();
        assert_eq!(local.tls, TlsMode::Prefer);
        let said = PgTarget::parse("postgresql://u@db.example.com/x?sslmode=require").unwrap();
        assert_eq!(said.tls, TlsMode::Require);
        assert!(PgTarget::parse("postgres://u@h/x?sslmode=sometimes").is_err());
    }

    #[test]
    fn no_message_shows_the_password() {
        let error = PgTarget::parse("postgres://u:hunter2@h:notaport/x").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(
            error.to_string().contains("postgres://u@h:notaport/x"),
            "{error}"
        );
        let target = PgTarget::parse("postgres://u:hunter2@h:1/x").unwrap();
        assert!(!format!("{target:?}").contains("hunter2"));
        assert_eq!(target.describe(), "postgres://u@h:1/x");
    }

    #[test]
    fn a_schema_name_is_checked() {
        assert_eq!(
            PgTarget::parse("postgres://u@h/x").unwrap().schema(),
            "profiles"
        );
        assert!(PgTarget::parse("postgres://u@h/x?schema=Bad;drop").is_err());
        assert!(PgTarget::parse("postgres://u@h/x?schema=pg_catalog").is_err());
    }

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("postgres://h/x"));
        assert!(is_url("PostgreSQL://h/x"));
        assert!(!is_url("state.db"));
        assert!(!is_url("./postgres://x"));
    }
}
