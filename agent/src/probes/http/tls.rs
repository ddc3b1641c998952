//! TLS for the HTTP probe (whose roots the DNS probe's DoT/DoH take with a `ca_file`
//! too): the trusted roots (system store plus a test's `ca_file`), a
//! verifier that *records* the chain verification's outcome instead of aborting the
//! handshake (so an expired, wrong-host or unknown-CA certificate still yields its
//! subject, issuer and dates), and the certificate details and error texts.
//!
//! Verification itself is rustls' own `WebPkiServerVerifier` (webpki): the recording
//! verifier calls it and keeps its result. Handshake signatures are still checked for
//! real, so the peer proved it holds the certificate's key. When the chain did not
//! verify and the test verifies TLS, the probe stops after the handshake: no request is
//! sent over a connection whose server is not who it should be.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Serialize;
use std::sync::{Arc, LazyLock, Mutex};

/// The system's trusted CAs, read once per process (the store is a few hundred
/// certificates; reading it every run would cost more than the handshake).
static SYSTEM_ROOTS: LazyLock<Vec<CertificateDer<'static>>> = LazyLock::new(|| {
    let loaded = rustls_native_certs::load_native_certs();
    if !loaded.errors.is_empty() {
        tracing::warn!(errors = ?loaded.errors, "some system CA certificates could not be read");
    }
    loaded.certs
});

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: LazyLock<Arc<rustls::crypto::CryptoProvider>> = LazyLock::new(|| {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        // The crypto library initialises itself (CPU features, seeding its random
        // generator) on first use, tens of milliseconds once per process. Done here,
        // before any request's clock starts, so it is not timed as a TLS handshake.
        let _ = provider.secure_random.fill(&mut [0u8; 16]);
        for group in provider.kx_groups.iter() {
            let _ = group.start();
        }
        Arc::new(provider)
    });
    Arc::clone(&PROVIDER)
}

/// The system roots plus the certificates in `ca_file` (PEM).
pub fn roots(ca_file: Option<&str>) -> Result<Arc<RootCertStore>, String> {
    let mut store = RootCertStore::empty();
    let (_added, _ignored) = store.add_parsable_certificates(SYSTEM_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let mut added = 0;
        for cert in
            CertificateDer::pem_file_iter(path).map_err(|e| format!("ca_file {path}: {e}"))?
        {
            let cert = cert.map_err(|e| format!("ca_file {path}: {e}"))?;
            store
                .add(cert)
                .map_err(|e| format!("ca_file {path}: a certificate is not usable as a CA: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("ca_file {path}: no PEM certificate in it"));
        }
    }
    Ok(Arc::new(store))
}

/// What the chain verification said about the server's certificate.
#[derive(Debug, Default)]
pub struct Recorded {
    /// `Some(None)`: verified; `Some(Some(why))`: did not; `None`: no certificate came.
    pub outcome: Option<Option<String>>,
    pub end_entity: Option<CertificateDer<'static>>,
}

/// Verifies like rustls' webpki verifier, records the outcome, lets the handshake go on.
#[derive(Debug)]
pub struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pub recorded: Mutex<Recorded>,
}

impl RecordingVerifier {
    pub fn new(roots: Arc<RootCertStore>) -> Result<Arc<Self>, String> {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| format!("TLS verifier: {e}"))?;
        Ok(Arc::new(RecordingVerifier {
            inner,
            recorded: Mutex::default(),
        }))
    }

    pub fn take(&self) -> Recorded {
        std::mem::take(&mut *self.recorded.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let outcome = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        recorded.end_entity = Some(end_entity.clone().into_owned());
        recorded.outcome = Some(
            outcome
                .err()
                .map(|e| describe_error(&e, end_entity, server_name)),
        );
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The reason in words an operator acts on: `expired: …`, `wrong host: …`,
/// `unknown CA: …`, else rustls' own text.
fn describe_error(
    error: &rustls::Error,
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
) -> String {
    let details = CertInfo::parse(end_entity, now_unix());
    let host = server_name.to_str();
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "expired: the certificate for {host} was valid until {}",
                details.map_or_else(|| "an earlier date".into(), |d| d.not_after)
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!(
                    "not yet valid: the certificate for {host} becomes valid at {}",
                    details.map_or_else(|| "a later date".into(), |d| d.not_before)
                )
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                match cert {
                    CertificateError::NotValidForNameContext { presented, .. }
                        if !presented.is_empty() =>
                    {
                        // rustls spells them `DnsName("a.example")`, `IpAddress(…)`.
                        let names: Vec<&str> = presented
                            .iter()
                            .map(|p| p.split('"').nth(1).unwrap_or(p))
                            .collect();
                        format!(
                            "wrong host: the certificate is not valid for {host} (it names {})",
                            names.join(", ")
                        )
                    }
                    _ => format!("wrong host: the certificate is not valid for {host}"),
                }
            }
            CertificateError::UnknownIssuer => format!(
                "unknown CA: the certificate for {host} (issuer {}) does not chain to a CA this agent trusts (system store and ca_file)",
                details.map_or_else(|| "unreadable".into(), |d| d.issuer)
            ),
            CertificateError::BadSignature => {
                format!("bad signature: the certificate chain for {host} has an invalid signature")
            }
            CertificateError::Revoked => format!("revoked: the certificate for {host} is revoked"),
            other => format!("invalid certificate for {host}: {other:?}"),
        },
        other => format!("certificate for {host} rejected: {other}"),
    }
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What the server's certificate says about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    /// RFC 3339, UTC.
    pub not_after: String,
    pub not_after_unix: i64,
    /// Whole days from `now` to `not_after`, rounded down (negative once expired).
    pub days_left: i64,
}

impl CertInfo {
    pub fn parse(der: &CertificateDer<'_>, now_unix: i64) -> Option<CertInfo> {
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let validity = cert.validity();
        let not_after_unix = validity.not_after.timestamp();
        Some(CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: rfc3339(validity.not_before.timestamp()),
            not_after: rfc3339(not_after_unix),
            not_after_unix,
            days_left: (not_after_unix - now_unix).div_euclid(86_400),
        })
    }
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, Howard Hinnant's
/// civil-from-days).
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// TLS version as OpenSSL (and curl) names it.
pub fn version_name(version: rustls::ProtocolVersion) -> String {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
    }
}

/// Cipher suite by its IANA name (rustls spells TLS 1.3 suites `TLS13_…`).
pub fn cipher_name(suite: rustls::SupportedCipherSuite) -> String {
    let name = suite
        .suite()
        .as_str()
        .map_or_else(|| format!("{:?}", suite.suite()), str::to_owned);
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
