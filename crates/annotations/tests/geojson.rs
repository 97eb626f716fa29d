//! QuPath GeoJSON in each form QuPath reads, and files that must fail
//! clearly.

use kh_annotations::geojson::{annotations_from_geojson, annotations_from_lenient_geojson};
use kh_annotations::{
    Annotations, Colour, ErrorKind, Fault, Format, Geometry, Kind, Limits, Point, Provenance,
};

fn read(json: &str) -> Annotations {
    annotations_from_geojson(json.as_bytes(), &Limits::default())
        .unwrap_or_else(|f| panic!("{f}: {json}"))
}

fn fault(json: &str) -> Fault {
    fault_with(json, &Limits::default())
}

fn fault_with(json: &str, limits: &Limits) -> Fault {
    match annotations_from_geojson(json.as_bytes(), limits) {
        Ok(a) => panic!(
            "read {} objects from {}",
            a.objects.len(),
            json.chars().take(300).collect::<String>()
        ),
        Err(f) => f,
    }
}

const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]]]}"#;

#[test]
fn every_top_level_form_reads() {
    let feature = format!(
        r#"{{"type":"Feature","geometry":{SQUARE},"properties":{{"objectType":"detection"}}}}"#
    );
    for json in [
        format!(r#"{{"type":"FeatureCollection","features":[{feature},{feature}]}}"#),
        // "features" before "type", as JSON allows.
        format!(r#"{{"features":[{feature},{feature}],"type":"FeatureCollection"}}"#),
        format!("[{feature},{feature}]"),
    ] {
        let a = read(&json);
        assert_eq!(a.objects.len(), 2, "{json}");
        assert!(a.objects.iter().all(|o| o.kind == Kind::Detection));
    }
    let a = read(&feature);
    assert_eq!(a.objects.len(), 1);
    // A bare geometry is one annotation.
    let a = read(SQUARE);
    assert_eq!(a.objects[0].kind, Kind::Annotation);
    // Rings are kept open.
    let Geometry::Polygon(p) = &a.objects[0].geometry else {
        panic!("{:?}", a.objects[0].geometry)
    };
    assert_eq!(p.exterior.len(), 4);
    assert_eq!(
        read(r#"{"type":"FeatureCollection","features":[]}"#)
            .objects
            .len(),
        0
    );
}

#[test]
fn object_types_come_from_every_place_qupath_looks() {
    let kind = |props: &str, id: &str| {
        let json = format!(r#"{{"type":"Feature",{id}"geometry":{SQUARE},"properties":{props}}}"#);
        read(&json).objects[0].kind
    };
    assert_eq!(kind(r#"{"objectType":"cell"}"#, ""), Kind::Cell);
    assert_eq!(kind(r#"{"object_type":"tile"}"#, ""), Kind::Tile);
    assert_eq!(kind(r#"{"type":"detection"}"#, ""), Kind::Detection);
    // objectType wins over the aliases.
    assert_eq!(
        kind(r#"{"type":"tile","objectType":"cell"}"#, ""),
        Kind::Cell
    );
    // v0.2: the type in the Feature's id; the id is then not kept.
    assert_eq!(kind("{}", r#""id":"PathCellObject","#), Kind::Cell);
    assert_eq!(
        kind("{}", r#""id":"PathDetectionObject","#),
        Kind::Detection
    );
    assert_eq!(kind("{}", r#""id":"PathTileObject","#), Kind::Tile);
    // Unknown names and no properties at all are annotations, as in QuPath.
    assert_eq!(kind(r#"{"objectType":"something"}"#, ""), Kind::Annotation);
    let a = read(&format!(r#"{{"type":"Feature","geometry":{SQUARE}}}"#));
    assert_eq!(a.objects[0].kind, Kind::Annotation);
    let a = read(&format!(
        r#"{{"type":"Feature","id":"PathCellObject","geometry":{SQUARE}}}"#
    ));
    assert_eq!(a.objects[0].id, None);
    let a = read(&format!(
        r#"{{"type":"Feature","id":"4f7e3c1a-0000-4000-8000-000000000001","geometry":{SQUARE}}}"#
    ));
    assert_eq!(
        a.objects[0].id.as_deref(),
        Some("4f7e3c1a-0000-4000-8000-000000000001")
    );
}

#[test]
fn properties_read_in_old_and_new_forms() {
    let json = format!(
        r#"[
        {{"type":"Feature","geometry":{SQUARE},"properties":{{"objectType":"cell","name":"c1",
          "color":[1,2,3],"isLocked":true,
          "classification":{{"name":"Tumor","color":[200,0,0]}},
          "measurements":{{"Area":12.5,"Missing":null,"Nucleus: Area":4}},
          "metadata":{{"x":"y"}}, "unknown":[{{"deep":[1,2,{{}}]}}]}}}},
        {{"type":"Feature","geometry":{SQUARE},"properties":{{
          "color":-8397766,
          "classification":{{"name":"Cell","colorRGB":-4689085}},
          "measurements":[{{"name":"Area","value":3}},{{"name":"Other","value":1e3}}]}}}},
        {{"type":"Feature","geometry":{SQUARE},"properties":{{
          "classification":{{"names":["Tumor","Positive"],"color":[10,20,30,128]}}}}}},
        {{"type":"Feature","geometry":{SQUARE},"properties":{{
          "classification":{{"parentClass":{{"name":"Tumor","colorRGB":-65536}},"name":"Negative","colorRGB":-16776961}}}}}},
        {{"type":"Feature","geometry":{SQUARE},"properties":{{"classification":"Stroma: Positive"}}}},
        {{"type":"Feature","geometry":{SQUARE},"properties":{{"classification":null,"name":null}}}}
    ]"#
    );
    let a = read(&json);
    let o = &a.objects;
    assert_eq!(o[0].kind, Kind::Cell);
    assert_eq!(o[0].name.as_deref(), Some("c1"));
    assert_eq!(o[0].colour, Some(Colour::rgb(1, 2, 3)));
    assert!(o[0].locked);
    assert_eq!(a.class(o[0].class.unwrap()).name, "Tumor");
    assert_eq!(
        a.class(o[0].class.unwrap()).colour,
        Some(Colour::rgb(200, 0, 0))
    );
    assert_eq!(a.measurement(&o[0], "Area"), Some(12.5));
    assert!(a.measurement(&o[0], "Missing").unwrap().is_nan());
    assert_eq!(a.measurement(&o[0], "Nucleus: Area"), Some(4.0));
    assert_eq!(o[1].colour, Some(Colour::rgb(127, 220, 58)));
    assert_eq!(
        a.class(o[1].class.unwrap()).colour,
        Some(Colour::rgb(184, 115, 67))
    );
    assert_eq!(a.measurement(&o[1], "Other"), Some(1000.0));
    let derived = a.class(o[2].class.unwrap());
    assert_eq!(derived.name, "Tumor: Positive");
    assert_eq!(derived.colour.unwrap().a, 128);
    assert_eq!(a.class(o[3].class.unwrap()).name, "Tumor: Negative");
    assert_eq!(
        a.class(o[3].class.unwrap()).colour,
        Some(Colour::rgb(0, 0, 255))
    );
    assert_eq!(a.class(o[4].class.unwrap()).name, "Stroma: Positive");
    assert_eq!(o[5].class, None);
    assert_eq!(o[5].name, None);
}

#[test]
fn cells_keep_their_nucleus_and_every_geometry_type_reads() {
    let json = format!(
        r#"[{{"type":"Feature","nucleusGeometry":{SQUARE},"geometry":{{"coordinates":[[[0,0],[20,0],[20,20],[0,0]]],"type":"Polygon"}},"properties":{{"objectType":"cell"}}}},
        {{"type":"Feature","geometry":{{"type":"Point","coordinates":[1.5,2.5,0]}}}},
        {{"type":"Feature","geometry":{{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}}}},
        {{"type":"Feature","geometry":{{"type":"LineString","coordinates":[[1,2],[3,4]]}}}},
        {{"type":"Feature","geometry":{{"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[[5,6],[7,8]]]}}}},
        {{"type":"Feature","geometry":{{"type":"Polygon","coordinates":[[[0,0],[100,0],[100,100],[0,100],[0,0]],[[10,10],[20,10],[20,20],[10,10]]]}}}},
        {{"type":"Feature","geometry":{{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]}}}}]"#
    );
    let a = read(&json);
    assert!(matches!(
        a.objects[0].nucleus.as_deref(),
        Some(Geometry::Polygon(_))
    ));
    assert_eq!(a.objects[1].geometry, Geometry::Point(Point::new(1.5, 2.5)));
    let names: Vec<&str> = a.objects.iter().map(|o| o.geometry.name()).collect();
    assert_eq!(
        names,
        [
            "polygon",
            "point",
            "multipoint",
            "polyline",
            "multipolyline",
            "polygon",
            "multipolygon"
        ]
    );
    let Geometry::Polygon(p) = &a.objects[5].geometry else {
        panic!()
    };
    assert_eq!(
        (p.exterior.len(), p.holes.len(), p.holes[0].len()),
        (4, 1, 3)
    );
    let b = a.bounds().unwrap();
    assert_eq!(
        (b.min_x, b.min_y, b.max_x, b.max_y),
        (0.0, 0.0, 100.0, 100.0)
    );
}

#[test]
fn provenance_is_read_back() {
    let json = format!(
        r#"{{"type":"Feature","geometry":{SQUARE},"properties":{{"provenance":{{"kind":"algorithm","name":"nuclei","version":"1.2","when":"2026-12-07T10:00:00Z"}}}}}}"#
    );
    let a = read(&json);
    assert_eq!(
        a.provenance(a.objects[0].provenance),
        &Provenance::Algorithm {
            name: "nuclei".into(),
            version: "1.2".into(),
            when: Some("2026-12-07T10:00:00Z".into())
        }
    );
}

#[test]
fn qupath_nan_measurements_read_leniently() {
    // Gson's special floating point values: not JSON, but QuPath writes them.
    let json = format!(
        r#"{{"type":"Feature","geometry":{SQUARE},"properties":{{"name":"NaN Infinity","measurements":{{"a":NaN,"b":-Infinity,"c":Infinity,"d":1}}}}}}"#
    );
    let strict = fault(&json);
    assert_eq!(strict.kind, ErrorKind::Corrupt);
    let a = annotations_from_lenient_geojson(json.as_bytes(), &Limits::default()).unwrap();
    let o = &a.objects[0];
    // Text inside strings is left alone.
    assert_eq!(o.name.as_deref(), Some("NaN Infinity"));
    assert!(a.measurement(o, "a").unwrap().is_nan());
    assert!(a.measurement(o, "b").unwrap().is_nan());
    assert_eq!(a.measurement(o, "d"), Some(1.0));
    // A NaN coordinate is still an error, naming the object.
    let bad = r#"[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}},
                  {"type":"Feature","geometry":{"type":"Point","coordinates":[NaN,2]}}]"#;
    let f = annotations_from_lenient_geojson(bad.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(f.object, Some(1), "{f}");
    assert!(f.reason.contains("null"), "{f}");
}

#[test]
fn broken_files_fail_naming_the_object_and_the_reason() {
    let two = |second: &str| format!(r#"[{{"type":"Feature","geometry":{SQUARE}}},{second}]"#);
    let cases: Vec<(String, &str)> = vec![
        // Truncated in the middle of the second object.
        (
            two(r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,"#)
                .trim_end_matches(']')
                .to_owned(),
            "JSON",
        ),
        (
            two(r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1e300,2]}}"#),
            "beyond",
        ),
        (
            two(r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1]}}"#),
            "one number",
        ),
        (
            two(
                r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[0,0]]]}}"#,
            ),
            "three",
        ),
        (
            two(
                r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[0,0],[1,1],[2,2]]}}"#,
            ),
            "rings",
        ),
        (
            two(r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[[[[[1,2]]]]]}}"#),
            "deeper",
        ),
        (
            two(r#"{"type":"Feature","geometry":{"type":"Hexagon","coordinates":[1,2]}}"#),
            "Hexagon",
        ),
        (
            two(r#"{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[]}}"#),
            "GeometryCollection",
        ),
        (
            two(r#"{"type":"Feature","geometry":null}"#),
            "without a geometry",
        ),
        (
            two(r#"{"type":"Feature","geometry":{"coordinates":[1,2]}}"#),
            "type",
        ),
        (
            two(r#"{"type":"Feature","geometry":{"type":"Point","coordinates":["1",2]}}"#),
            "JSON",
        ),
        (
            two(r#"{"type":"Polygon","coordinates":[]}"#),
            "Feature belongs",
        ),
        (
            two(r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2]]}}"#),
            "two positions",
        ),
    ];
    for (json, why) in cases {
        let f = fault(&json);
        assert_eq!(f.object, Some(1), "{json}: {f}");
        assert!(f.reason.contains(why), "{json}: {f} (wanted {why:?})");
    }
    // Not GeoJSON at all.
    let f = fault(r#"{"hello":"world"}"#);
    assert_eq!(f.kind, ErrorKind::Unsupported, "{f}");
    assert!(fault("").reason.contains("JSON"));
}

#[test]
fn nesting_deep_enough_to_overflow_a_stack_is_refused_or_skipped() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let f = fault(&deep);
    assert_eq!(f.kind, ErrorKind::Corrupt, "{f}");
    let props = format!(
        r#"{{"type":"Feature","geometry":{SQUARE},"properties":{{"x":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    // Skipped properties are stepped over without recursion: harmless.
    assert_eq!(read(&props).objects.len(), 1);
    let coords = format!(
        r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":{}1{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(
        fault(&coords).reason.contains("deeper"),
        "{}",
        fault(&coords)
    );
}

#[test]
fn limits_hold_before_memory_is_spent() {
    let limits = Limits {
        max_vertices_per_object: 100,
        max_objects: 3,
        max_measurements_per_object: 2,
        max_text_bytes: 8,
        ..Limits::default()
    };
    let ring: Vec<String> = (0..200).map(|i| format!("[{i},{}]", i % 7)).collect();
    let big = format!(
        r#"[{{"type":"Feature","geometry":{SQUARE}}},{{"type":"Feature","geometry":{{"type":"LineString","coordinates":[{}]}}}}]"#,
        ring.join(",")
    );
    let f = fault_with(&big, &limits);
    assert_eq!((f.kind, f.object), (ErrorKind::Limit, Some(1)), "{f}");
    // The nucleus counts toward the same object's budget.
    let half: Vec<String> = (0..60).map(|i| format!("[{i},{}]", i % 7)).collect();
    let line = format!(
        r#"{{"type":"LineString","coordinates":[{}]}}"#,
        half.join(",")
    );
    let cell = format!(r#"{{"type":"Feature","geometry":{line},"nucleusGeometry":{line}}}"#);
    assert_eq!(fault_with(&cell, &limits).kind, ErrorKind::Limit);
    let many = format!(
        "[{}]",
        vec![format!(r#"{{"type":"Feature","geometry":{SQUARE}}}"#); 4].join(",")
    );
    let f = fault_with(&many, &limits);
    assert_eq!((f.kind, f.object), (ErrorKind::Limit, Some(3)), "{f}");
    let measured = format!(
        r#"{{"type":"Feature","geometry":{SQUARE},"properties":{{"measurements":{{"a":1,"b":2,"c":3}}}}}}"#
    );
    assert_eq!(fault_with(&measured, &limits).kind, ErrorKind::Limit);
    let named = format!(
        r#"{{"type":"Feature","geometry":{SQUARE},"properties":{{"name":"a long name"}}}}"#
    );
    assert_eq!(fault_with(&named, &limits).kind, ErrorKind::Limit);
}

#[test]
fn formats_are_known_by_name_and_by_content() {
    use std::path::Path;
    assert_eq!(
        Format::from_extension(Path::new("a.GeoJSON")),
        Some(Format::GeoJson)
    );
    assert_eq!(
        Format::from_extension(Path::new("a.xml")),
        Some(Format::AsapXml)
    );
    assert_eq!(Format::sniff(b"\xEF\xBB\xBF  \n["), Some(Format::GeoJson));
    assert_eq!(Format::sniff(b"<?xml"), Some(Format::AsapXml));
    assert_eq!(Format::sniff(b"DICM"), None);
}
