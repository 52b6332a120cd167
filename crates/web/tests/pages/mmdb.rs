//! A tiny MaxMind DB writer for tests (the `maxminddb` crate only reads), following the
//! published format (MaxMind DB File Format Specification 2.0): an IPv4 binary search tree
//! with 24-bit records, a data section holding one `{"country": {"iso_code": "GB"}}` map
//! per network, and the metadata map after the `\xAB\xCD\xEFMaxMind.com` marker.

use std::net::Ipv4Addr;

/// Writes a control byte (type and size) and, for extended types, the type byte.
fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (first, ext) = if kind <= 7 {
        (kind << 5, None)
    } else {
        (0, Some(kind - 7))
    };
    let (low, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    out.push(first | low);
    out.extend(ext);
    out.extend(extra);
}

fn string(out: &mut Vec<u8>, s: &str) {
    control(out, 2, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// An unsigned integer of type `kind` (5 uint16, 6 uint32, 9 uint64) in as few bytes as it
/// needs, as the format requires.
fn uint(out: &mut Vec<u8>, kind: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, kind, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

fn map(out: &mut Vec<u8>, pairs: usize) {
    control(out, 7, pairs);
}

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(usize),
    Data(usize),
}

/// A database mapping each IPv4 network ("81.2.69.0/24") to a country code.
pub fn country_db(networks: &[(&str, &str)]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty; 2]];
    for (net, iso) in networks {
        let offset = data.len();
        map(&mut data, 1);
        string(&mut data, "country");
        map(&mut data, 1);
        string(&mut data, "iso_code");
        string(&mut data, iso);

        let (addr, len) = net.split_once('/').expect("a.b.c.d/len");
        let bits = u32::from(addr.parse::<Ipv4Addr>().expect("IPv4"));
        let len: u32 = len.parse().expect("prefix length");
        let mut cur = 0;
        for i in 0..len {
            let bit = ((bits >> (31 - i)) & 1) as usize;
            if i == len - 1 {
                nodes[cur][bit] = Record::Data(offset);
            } else {
                cur = match nodes[cur][bit] {
                    Record::Node(n) => n,
                    _ => {
                        nodes.push([Record::Empty; 2]);
                        let n = nodes.len() - 1;
                        nodes[cur][bit] = Record::Node(n);
                        n
                    }
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for node in &nodes {
        for r in node {
            let v = match *r {
                Record::Empty => count,
                Record::Node(n) => n,
                // Data pointers count from the start of the data section, after the
                // 16-byte separator.
                Record::Data(off) => count + 16 + off,
            };
            out.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    map(&mut out, 9);
    string(&mut out, "binary_format_major_version");
    uint(&mut out, 5, 2);
    string(&mut out, "binary_format_minor_version");
    uint(&mut out, 5, 0);
    string(&mut out, "build_epoch");
    uint(&mut out, 9, 1_795_000_000);
    string(&mut out, "database_type");
    string(&mut out, "Downbeat-Test-Country");
    string(&mut out, "description");
    map(&mut out, 1);
    string(&mut out, "en");
    string(&mut out, "Countries of a few networks, for tests");
    string(&mut out, "ip_version");
    uint(&mut out, 5, 4);
    string(&mut out, "languages");
    control(&mut out, 11, 1);
    string(&mut out, "en");
    string(&mut out, "node_count");
    uint(&mut out, 6, count as u64);
    string(&mut out, "record_size");
    uint(&mut out, 5, 24);
    out
}
