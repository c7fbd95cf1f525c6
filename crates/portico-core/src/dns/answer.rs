//! What the responder answers. [`reply`] is the rule, pure and unit-tested; [`Answerer`] is
//! the `hickory-server` request handler that applies it to each message.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{
    Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_server::proto::rr::rdata::{A, AAAA, SOA};
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

/// Time to live of every answer, and of the negative answers (the SOA's minimum), in
/// seconds: short, so removing a suffix is felt within a minute. Default and only value: 30.
pub const TTL: u32 = 30;

/// The reply to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The name is under no suffix: REFUSED (never recursed or forwarded).
    Refused,
    /// NOERROR with these answers; when there are none (a type other than A/AAAA), the
    /// authority section carries `soa` so resolvers cache the absence.
    Answer {
        /// The answer section.
        answers: Vec<Record>,
        /// The suffix's SOA, for the authority section of an empty answer (boxed: a
        /// record is large and REFUSED carries nothing).
        soa: Box<Record>,
    },
}

/// The reply for a question about `name` of `kind` in `class`, given the suffixes (fully
/// qualified). The answer's owner name is `name` exactly as asked, case included (some
/// resolvers check the echo).
pub(crate) fn reply(suffixes: &[Name], name: &Name, kind: RecordType, class: DNSClass) -> Reply {
    // The longest suffix wins, so `dev.test` and `test` may both be listed.
    let Some(zone) = suffixes
        .iter()
        .filter(|s| s.zone_of(name))
        .max_by_key(|s| s.num_labels())
    else {
        return Reply::Refused;
    };
    if class != DNSClass::IN && class != DNSClass::ANY {
        return Reply::Refused;
    }
    let mut owner = name.clone();
    owner.set_fqdn(true);
    let a = || Record::from_rdata(owner.clone(), TTL, RData::A(A(Ipv4Addr::LOCALHOST)));
    let aaaa = || Record::from_rdata(owner.clone(), TTL, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)));
    let soa = Box::new(soa(zone));
    let answers = match kind {
        RecordType::A => vec![a()],
        RecordType::AAAA => vec![aaaa()],
        RecordType::ANY => vec![a(), aaaa()],
        RecordType::SOA if zone.eq_ignore_root(name) => vec![(*soa).clone()],
        _ => Vec::new(),
    };
    Reply::Answer { answers, soa }
}

/// The SOA Portico answers with for `zone`: nameserver `localhost.`, serial 1, and the
/// answers' TTL as the negative-caching time.
fn soa(zone: &Name) -> Record {
    let mut zone = zone.clone();
    zone.set_fqdn(true);
    let mname = Name::from_ascii("localhost.").expect("a constant, valid name");
    let rname = Name::from_ascii("hostmaster.invalid.").expect("a constant, valid name");
    let data = SOA::new(mname, rname, 1, 3600, 600, 86_400, TTL);
    Record::from_rdata(zone, TTL, RData::SOA(data))
}

/// The request handler: answers with [`reply`] over the current suffixes, which the engine
/// swaps in place when the setting changes (no re-bind).
#[derive(Debug, Clone)]
pub struct Answerer {
    suffixes: Arc<ArcSwap<Vec<Name>>>,
}

impl Answerer {
    /// A handler answering for `suffixes` (each a valid suffix as the settings hold it).
    pub fn new(suffixes: &[String]) -> Answerer {
        Answerer {
            suffixes: Arc::new(ArcSwap::from_pointee(names(suffixes))),
        }
    }

    /// Answer for `suffixes` from the next question on.
    pub fn set_suffixes(&self, suffixes: &[String]) {
        self.suffixes.store(Arc::new(names(suffixes)));
    }
}

/// The suffixes as fully qualified names; one that is not a name (settings validation
/// prevents it) is left out.
fn names(suffixes: &[String]) -> Vec<Name> {
    suffixes
        .iter()
        .filter_map(|s| {
            let mut name = Name::from_ascii(s).ok()?;
            name.set_fqdn(true);
            Some(name)
        })
        .collect()
}

#[async_trait::async_trait]
impl RequestHandler for Answerer {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        // RFC 6891: a query with OPT gets OPT back; this responder knows EDNS version 0.
        let mut edns = request.edns.as_ref().map(|asked| {
            let mut edns = Edns::new();
            edns.set_max_payload(asked.max_payload().max(512));
            edns.set_version(0);
            edns
        });
        let mut meta = Metadata::response_from_request(&request.metadata);
        let code = if request.metadata.message_type != MessageType::Query {
            Some(ResponseCode::FormErr)
        } else if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            Some(ResponseCode::BADVERS)
        } else if request.metadata.op_code != OpCode::Query {
            Some(ResponseCode::NotImp)
        } else if request.queries.queries().len() != 1 {
            Some(ResponseCode::FormErr)
        } else {
            None
        };
        if let (Some(code), Some(edns)) = (code, edns.as_mut())
            && code.high() != 0
        {
            edns.set_rcode_high(code.high());
        }
        let builder = MessageResponseBuilder::new(&request.queries, edns.as_ref());
        let sent = match (code, request.queries.queries().first()) {
            (None, Some(query)) => {
                let asked = query.original();
                let suffixes = self.suffixes.load();
                match reply(
                    &suffixes,
                    asked.name(),
                    asked.query_type(),
                    asked.query_class(),
                ) {
                    Reply::Refused => {
                        response_handle
                            .send_response(
                                builder.error_msg(&request.metadata, ResponseCode::Refused),
                            )
                            .await
                    }
                    Reply::Answer { answers, soa } => {
                        meta.authoritative = true;
                        meta.response_code = ResponseCode::NoError;
                        let authority = answers.is_empty().then_some(&*soa);
                        response_handle
                            .send_response(builder.build(
                                meta,
                                answers.iter(),
                                None,
                                authority,
                                None,
                            ))
                            .await
                    }
                }
            }
            (code, _) => {
                let code = code.unwrap_or(ResponseCode::FormErr);
                response_handle
                    .send_response(builder.error_msg(&request.metadata, code))
                    .await
            }
        };
        match sent {
            Ok(info) => info,
            Err(err) => {
                tracing::debug!("cannot send a DNS answer to {}: {err}", request.src());
                meta.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata: meta,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).expect("name")
    }

    fn suffixes() -> Vec<Name> {
        names(&["test".to_owned(), "dev.internal".to_owned()])
    }

    fn answers(reply: Reply) -> Vec<RData> {
        match reply {
            Reply::Answer { answers, .. } => answers.into_iter().map(|r| r.data.clone()).collect(),
            Reply::Refused => panic!("refused"),
        }
    }

    #[test]
    fn names_under_a_suffix_get_loopback_in_any_case_and_depth() {
        let s = suffixes();
        for asked in [
            "app.test.",
            "a.b.c.test.",
            "TEST.",
            "App.TeSt.",
            "x.dev.internal.",
        ] {
            let a = answers(reply(&s, &name(asked), RecordType::A, DNSClass::IN));
            assert_eq!(a, vec![RData::A(A(Ipv4Addr::LOCALHOST))], "{asked}");
            let aaaa = answers(reply(&s, &name(asked), RecordType::AAAA, DNSClass::IN));
            assert_eq!(
                aaaa,
                vec![RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))],
                "{asked}"
            );
        }
    }

    #[test]
    fn the_answer_keeps_the_name_as_asked() {
        let Reply::Answer { answers, .. } = reply(
            &suffixes(),
            &name("My.App.Test."),
            RecordType::A,
            DNSClass::IN,
        ) else {
            panic!("refused");
        };
        assert_eq!(answers[0].name.to_ascii(), "My.App.Test.");
        assert_eq!(answers[0].ttl, TTL);
    }

    #[test]
    fn other_types_get_no_answer_with_the_suffix_soa() {
        for kind in [
            RecordType::MX,
            RecordType::TXT,
            RecordType::NS,
            RecordType::HTTPS,
        ] {
            let Reply::Answer { answers, soa } = reply(
                &suffixes(),
                &name("mail.x.dev.internal."),
                kind,
                DNSClass::IN,
            ) else {
                panic!("refused");
            };
            assert!(answers.is_empty(), "{kind}");
            assert_eq!(&soa.name, &name("dev.internal."));
            assert_eq!(soa.record_type(), RecordType::SOA);
        }
        let apex = answers(reply(
            &suffixes(),
            &name("test."),
            RecordType::SOA,
            DNSClass::IN,
        ));
        assert_eq!(apex.len(), 1);
        let below = answers(reply(
            &suffixes(),
            &name("a.test."),
            RecordType::SOA,
            DNSClass::IN,
        ));
        assert!(below.is_empty());
    }

    #[test]
    fn names_outside_the_suffixes_are_refused() {
        let s = suffixes();
        for asked in [
            "example.com.",
            "test.com.",
            "mytest.",
            "internal.",
            "x.internal.",
            "localhost.",
            ".",
        ] {
            assert_eq!(
                reply(&s, &name(asked), RecordType::A, DNSClass::IN),
                Reply::Refused,
                "{asked}"
            );
        }
        assert_eq!(
            reply(&s, &name("a.test."), RecordType::A, DNSClass::CH),
            Reply::Refused
        );
        assert_eq!(
            reply(&[], &name("a.test."), RecordType::A, DNSClass::IN),
            Reply::Refused
        );
    }

    #[test]
    fn any_gets_both_addresses() {
        let both = answers(reply(
            &suffixes(),
            &name("a.test."),
            RecordType::ANY,
            DNSClass::IN,
        ));
        assert_eq!(both.len(), 2);
    }
}
