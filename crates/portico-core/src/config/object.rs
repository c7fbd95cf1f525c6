//! Struct-shaped input from JSON objects only. serde's derived struct deserializers also take
//! an array of the fields in order, so `"settings": []` would read as "every setting at its
//! default" and `["x"]` as `{"project": "x"}`. No client means that and the API document does
//! not allow it, so request bodies and the structs inside them go through [`Object`]. This
//! module does not touch what a struct accepts inside the object.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A `T` that was written as a JSON object. The fields are read straight from the object, so
/// errors keep their position and field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        d.deserialize_map(ObjectVisitor(PhantomData)).map(Object)
    }
}

/// For `#[serde(deserialize_with)]` on an `Option` of a struct: `null`, absent or an object.
pub(crate) fn option<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Object<T>>::deserialize(d)?.map(|Object(t)| t))
}

/// For `#[serde(deserialize_with)]` on a list of structs: an array of objects.
pub(crate) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Vec::<Object<T>>::deserialize(d)?
        .into_iter()
        .map(|Object(t)| t)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Export, NewRoute, Settings};

    #[test]
    fn structs_are_read_from_objects_and_not_from_arrays() {
        let Object(settings): Object<Settings> =
            serde_json::from_str(r#"{"shutdown_grace_ms": 500}"#).expect("object");
        assert_eq!(settings.shutdown_grace_ms, 500);
        // serde's own derive takes this as "every setting at its default"…
        assert!(serde_json::from_str::<Settings>("[]").is_ok());
        // …and Object refuses it.
        let err = serde_json::from_str::<Object<Settings>>("[]").expect_err("array");
        assert!(err.to_string().contains("expected a JSON object"), "{err}");
    }

    #[test]
    fn structs_inside_an_export_must_be_objects_too() {
        let ok = r#"{"portico": 1, "routes": [{"host": "a.localhost", "upstreams": ["1"]}],
                     "settings": {"local_suffixes": ["lan"]}}"#;
        let export: Export = serde_json::from_str(ok).expect("objects");
        assert_eq!(export.routes.len(), 1);
        for bad in [
            r#"{"portico": 1, "routes": [], "settings": [null, null]}"#,
            r#"{"portico": 1, "routes": [["a.localhost", null, ["1"]]]}"#,
        ] {
            assert!(serde_json::from_str::<Export>(bad).is_err(), "{bad}");
        }
        assert!(
            serde_json::from_str::<Object<NewRoute>>(r#"["a.localhost", null, ["1"]]"#).is_err()
        );
    }

    #[test]
    fn errors_inside_an_object_keep_their_field() {
        let err = serde_json::from_str::<Object<NewRoute>>(
            r#"{"host": "a.localhost", "upstreams": ["1"], "upstream": "2"}"#,
        )
        .expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field `upstream`"),
            "{err}"
        );
    }
}
