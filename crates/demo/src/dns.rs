//! Melodia's DNS: one UDP server per vantage region, like the nearest anycast node of a
//! provider with geographic answers. `api.melodia.test` is 127.0.0.1 for everyone;
//! `cdn.melodia.test` is the region's own edge. Under the DNS fault every name gets
//! SERVFAIL.

use crate::faults::{Fault, Faults, REGIONS};
use crate::melodia::edge_ip;
use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::A;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;

/// Answers live this long (the probes keep no cache, so a fault shows at once).
const TTL: u32 = 30;

/// Starts one server per region; returns their addresses, in [`REGIONS`] order.
pub async fn start(faults: Arc<Faults>) -> std::io::Result<Vec<SocketAddr>> {
    let mut addrs = Vec::with_capacity(REGIONS.len());
    for region in 0..REGIONS.len() {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        addrs.push(socket.local_addr()?);
        tokio::spawn(serve(socket, region, faults.clone()));
    }
    Ok(addrs)
}

async fn serve(socket: UdpSocket, region: usize, faults: Arc<Faults>) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(reply) = answer(&buf[..n], region, &faults) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

/// The reply to one query, or None for something that is not a query.
fn answer(query: &[u8], region: usize, faults: &Faults) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    let q = query.queries.first().cloned()?;
    let name = q.name().to_lowercase().to_ascii();
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    reply.add_query(q.clone());
    let address = match name.as_str() {
        "api.melodia.test." => Some(Ipv4Addr::LOCALHOST),
        "cdn.melodia.test." => Some(edge_ip(region)),
        _ => None,
    };
    if faults.is_on(Fault::Dns) && name.ends_with("melodia.test.") {
        reply.metadata.response_code = ResponseCode::ServFail;
    } else {
        match (address, q.query_type()) {
            (Some(ip), RecordType::A) => {
                reply.add_answer(Record::from_rdata(q.name().clone(), TTL, RData::A(A(ip))));
            }
            // The name exists, without records of that type.
            (Some(_), _) => {}
            (None, _) => reply.metadata.response_code = ResponseCode::NXDomain,
        }
    }
    reply.to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::Query;
    use hickory_resolver::proto::rr::Name;
    use std::str::FromStr;

    fn ask(name: &str, region: usize, faults: &Faults) -> Message {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_str(name).unwrap(), RecordType::A));
        let bytes = answer(&m.to_vec().unwrap(), region, faults).expect("a reply");
        Message::from_vec(&bytes).unwrap()
    }

    fn first_a(m: &Message) -> Option<Ipv4Addr> {
        m.answers.iter().find_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
    }

    #[test]
    fn each_region_gets_its_own_edge_and_the_fault_breaks_every_name() {
        let f = Faults::default();
        assert_eq!(
            first_a(&ask("cdn.melodia.test.", 2, &f)),
            Some(Ipv4Addr::new(127, 0, 0, 4))
        );
        assert_eq!(
            first_a(&ask("api.melodia.test.", 1, &f)),
            Some(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            ask("nope.melodia.test.", 0, &f).metadata.response_code,
            ResponseCode::NXDomain
        );
        f.set(Fault::Dns, true);
        let m = ask("api.melodia.test.", 0, &f);
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        assert!(m.answers.is_empty());
    }
}
