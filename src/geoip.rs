//! Offline ASN and geolocation of hop addresses (`[geoip]`): MaxMind-format `.mmdb`
//! files read with the `maxminddb` crate. The server enriches; agents stay small.
//!
//! Two layouts are read, whichever a file has:
//! - MaxMind GeoLite2 (`GeoLite2-ASN`, `GeoLite2-City`, `GeoLite2-Country`): ASN in
//!   `autonomous_system_number` / `autonomous_system_organization`; places nested as
//!   `country.iso_code`, `city.names.en`, `location.latitude` / `location.longitude`;
//! - ip-location-db (`*-asn-mmdb`, `*-city-mmdb`, `*-country-mmdb`): the same ASN names
//!   (some builds name them `asn` / `as_name` or `as_org`, read too), places flat as
//!   `country_code`, `city`, `latitude`, `longitude`.
//!
//! A database that is not configured, or that has no entry for an address, leaves the
//! fields absent: nothing is ever guessed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// `[geoip]`: where the databases are. Both optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoIpConfig {
    /// An ASN database (GeoLite2-ASN or ip-location-db's `*-asn.mmdb`).
    pub asn_db: Option<PathBuf>,
    /// A city or country database (GeoLite2-City/Country, ip-location-db's
    /// `*-city.mmdb` / `*-country.mmdb`).
    pub city_db: Option<PathBuf>,
    /// For databases split by address family (ip-location-db's `*-ipv4.mmdb` and
    /// `*-ipv6.mmdb`): the IPv6 file; `asn_db` / `city_db` then answer IPv4 only.
    pub asn_db_ipv6: Option<PathBuf>,
    pub city_db_ipv6: Option<PathBuf>,
}

impl GeoIpConfig {
    /// Opens what is configured; an error names the key and the reason.
    pub fn open(&self) -> Result<GeoIp, String> {
        fn one(key: &str, path: &Option<PathBuf>) -> Result<Option<Db>, String> {
            path.as_deref().map(|p| Db::open(key, p)).transpose()
        }
        Ok(GeoIp {
            asn: one("geoip.asn_db", &self.asn_db)?,
            city: one("geoip.city_db", &self.city_db)?,
            asn_v6: one("geoip.asn_db_ipv6", &self.asn_db_ipv6)?,
            city_v6: one("geoip.city_db_ipv6", &self.city_db_ipv6)?,
        })
    }
}

struct Db {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl Db {
    fn open(key: &str, path: &Path) -> Result<Db, String> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| {
            format!(
                "invalid configuration: {key} {}: cannot open as a MaxMind DB (.mmdb): {e}",
                path.display()
            )
        })?;
        Ok(Db { reader })
    }

    fn lookup<T: for<'de> Deserialize<'de>>(&self, ip: IpAddr) -> Option<T> {
        match self.reader.lookup(ip).and_then(|r| r.decode::<T>()) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, %ip, "geoip lookup failed");
                None
            }
        }
    }
}

/// The opened databases (either, both or none).
#[derive(Default)]
pub struct GeoIp {
    asn: Option<Db>,
    city: Option<Db>,
    asn_v6: Option<Db>,
    city_v6: Option<Db>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("asn", &self.asn.is_some())
            .field("city", &self.city.is_some())
            .field("asn_v6", &self.asn_v6.is_some())
            .field("city_v6", &self.city_v6.is_some())
            .finish()
    }
}

/// What the databases say about one address; every field absent when unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct HopInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
}

#[derive(Deserialize)]
struct AsnRecord {
    autonomous_system_number: Option<Num>,
    autonomous_system_organization: Option<String>,
    asn: Option<Num>,
    as_name: Option<String>,
    as_org: Option<String>,
}

#[derive(Deserialize)]
struct CityRecord {
    // GeoLite2
    country: Option<Country>,
    city: Option<CityField>,
    location: Option<Location>,
    // ip-location-db
    country_code: Option<String>,
    latitude: Option<Num>,
    longitude: Option<Num>,
}

#[derive(Deserialize)]
struct Country {
    iso_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CityField {
    Name(String),
    Names { names: BTreeMap<String, String> },
}

#[derive(Deserialize)]
struct Location {
    latitude: Option<Num>,
    longitude: Option<Num>,
}

/// A number as databases store it: an unsigned/signed integer, a double, or text.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Num {
    U(u64),
    I(i64),
    F(f64),
    S(String),
}

impl Num {
    fn f64(&self) -> Option<f64> {
        match self {
            Num::U(v) => Some(*v as f64),
            Num::I(v) => Some(*v as f64),
            Num::F(v) => Some(*v),
            Num::S(s) => s.trim().parse().ok(),
        }
        .filter(|v| v.is_finite())
    }
    fn u32(&self) -> Option<u32> {
        match self {
            Num::U(v) => u32::try_from(*v).ok(),
            Num::I(v) => u32::try_from(*v).ok(),
            Num::F(_) => None,
            Num::S(s) => s.trim().trim_start_matches("AS").parse().ok(),
        }
    }
}

impl GeoIp {
    pub fn has_asn(&self) -> bool {
        self.asn.is_some() || self.asn_v6.is_some()
    }

    pub fn has_city(&self) -> bool {
        self.city.is_some() || self.city_v6.is_some()
    }

    /// The database for `ip` among a main one and an IPv6-only one.
    fn pick<'a>(ip: IpAddr, main: &'a Option<Db>, v6: &'a Option<Db>) -> Option<&'a Db> {
        match (ip, v6) {
            (IpAddr::V6(_), Some(db)) => Some(db),
            _ => main.as_ref(),
        }
    }

    /// What the configured databases know about `ip` (all absent without databases).
    pub fn lookup(&self, ip: IpAddr) -> HopInfo {
        let mut info = HopInfo::default();
        if let Some(rec) =
            Self::pick(ip, &self.asn, &self.asn_v6).and_then(|db| db.lookup::<AsnRecord>(ip))
        {
            info.asn = rec
                .autonomous_system_number
                .or(rec.asn)
                .as_ref()
                .and_then(Num::u32);
            info.org = rec
                .autonomous_system_organization
                .or(rec.as_name)
                .or(rec.as_org)
                .filter(|s| !s.is_empty());
        }
        if let Some(rec) = self
            .city
            .as_ref()
            .and_then(|db| db.lookup::<CityRecord>(ip))
        {
            info.country = rec
                .country
                .and_then(|c| c.iso_code)
                .or(rec.country_code)
                .filter(|s| !s.is_empty());
            info.city = match rec.city {
                Some(CityField::Name(n)) => Some(n),
                Some(CityField::Names { names }) => names
                    .get("en")
                    .cloned()
                    .or_else(|| names.into_values().next()),
                None => None,
            }
            .filter(|s| !s.is_empty());
            let (lat, lon) = match rec.location {
                Some(l) => (l.latitude, l.longitude),
                None => (rec.latitude, rec.longitude),
            };
            // A position needs both coordinates in range; one alone is no position.
            if let (Some(lat), Some(lon)) = (
                lat.as_ref().and_then(Num::f64),
                lon.as_ref().and_then(Num::f64),
            ) && (-90.0..=90.0).contains(&lat)
                && (-180.0..=180.0).contains(&lon)
            {
                info.lat = Some(lat);
                info.lon = Some(lon);
            }
        }
        info
    }
}
