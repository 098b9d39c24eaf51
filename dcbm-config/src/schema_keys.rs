//! Tests: every key of the policy's schema, read off its serde definition
//! (not a list kept by hand), can be set by a drop-in.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;

use serde::de::value::{Error, MapDeserializer};
use serde::de::{self, Deserialize, Visitor};

use crate::policy::Policy;

/// A deserializer that records the fields of every struct asked of it:
/// the tables at the top, each table's keys one level down (visited empty:
/// every key of a policy is optional, as an empty policy is valid).
struct Trace<'a> {
    table: Option<&'static str>,
    keys: &'a RefCell<BTreeSet<String>>,
}

impl<'de> de::Deserializer<'de> for Trace<'_> {
    type Error = Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.table {
            None => visitor.visit_map(MapDeserializer::new(fields.iter().map(|f| {
                let value = Trace {
                    table: Some(*f),
                    keys: self.keys,
                };
                (*f, value)
            }))),
            Some(table) => {
                let mut keys = self.keys.borrow_mut();
                keys.extend(fields.iter().map(|f| format!("{table}.{f}")));
                visitor.visit_map(MapDeserializer::new(std::iter::empty::<(&str, &str)>()))
            }
        }
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(de::Error::custom("the schema is tables of keys"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

impl<'de> de::IntoDeserializer<'de, Error> for Trace<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// `table.key` for every key of the schema.
fn schema_keys() -> BTreeSet<String> {
    let keys = RefCell::new(BTreeSet::new());
    Policy::deserialize(Trace {
        table: None,
        keys: &keys,
    })
    .expect("tracing the schema");
    keys.into_inner()
}

/// Two policies that set every key, each to a value the other does not have.
const A: &str = r#"
[offload]
enabled = true
channels = 4
timeout_ms = 5000
min_batch_bytes = 262144
min_folio_bytes = 4096
reasons = ["compaction", "demotion"]
[conditions]
require_provider = false
drivers = ["ptdma", "idxd"]
min_channels = 2
min_numa_nodes = 2
min_cpuless_memory_nodes = 1
min_memory_tiers = 2
require_demotion = true
min_kernel = "6.8"
[counters]
reset = "once-per-boot"
"#;

const B: &str = r#"
[offload]
enabled = false
channels = "auto"
timeout_ms = 100
min_batch_bytes = 0
min_folio_bytes = 2097152
reasons = "all"
[conditions]
require_provider = true
drivers = ["swdma"]
min_channels = 1
min_numa_nodes = 1
min_cpuless_memory_nodes = 2
min_memory_tiers = 1
require_demotion = false
min_kernel = "5.15"
[counters]
reset = "on-apply"
"#;

/// The values of a policy (not where they came from).
fn values(p: &Policy) -> String {
    format!("{:?}\n{:?}\n{:?}", p.offload, p.conditions, p.counters)
}

/// `main` as the policy file with `dropin` as its only drop-in.
fn merged(main: &str, dropin: &str) -> Policy {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("dcbm.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(dir.path().join("dcbm.toml"), main).unwrap();
    std::fs::write(d.join("50-all.toml"), dropin).unwrap();
    crate::policy_load::load(&dir.path().join("dcbm.toml"), &[d], false).unwrap()
}

#[test]
fn the_trace_finds_the_tables_and_their_keys() {
    let keys = schema_keys();
    for k in ["offload.enabled", "conditions.min_kernel", "counters.reset"] {
        assert!(keys.contains(k), "{k} not in {keys:?}");
    }
}

#[test]
fn a_dropin_can_set_every_key_of_the_schema() {
    let path = Path::new("p.toml");
    let (a, b) = (
        Policy::parse(A, path).unwrap(),
        Policy::parse(B, path).unwrap(),
    );
    let set =
        |p: &Policy| -> BTreeSet<String> { p.sources.set_keys().map(|(k, _)| k.clone()).collect() };
    // The fixtures keep up with the schema, and differ in every key.
    assert_eq!(set(&a), schema_keys(), "A must set every key of the schema");
    assert_eq!(set(&b), schema_keys(), "B must set every key of the schema");
    for k in schema_keys() {
        assert_ne!(
            a.sources.get(&k).unwrap().value,
            b.sources.get(&k).unwrap().value,
            "{k}"
        );
    }
    // Whatever the main file says, the drop-in's value wins, for every key.
    assert_eq!(values(&merged(B, A)), values(&a));
    assert_eq!(values(&merged(A, B)), values(&b));
}
