//! What is written reads back the same (GeoJSON whole; ASAP as far as it
//! can hold), and writes never leave half a file.

use kh_annotations::{
    Annotations, Colour, Format, Geometry, Kind, Object, Point, Polygon, Provenance, read, write,
};

fn sample() -> Annotations {
    let mut a = Annotations::default();
    let tumour = a.class_id("Tumor: Positive", Some(Colour::rgb(200, 0, 0)));
    let plain = a.class_id("Stroma", None);
    let area = a.measurement_id("Nucleus: Area µm^2");
    let prob = a.measurement_id("Probability");
    let ai = a.provenance_id(Provenance::Algorithm {
        name: "nuclei".into(),
        version: "0.1".into(),
        when: Some("2026-12-07T09:00:00Z".into()),
    });
    let square = |x: f64| {
        vec![
            Point::new(x, 0.0),
            Point::new(x + 10.0, 0.0),
            Point::new(x + 10.0, 10.0),
            Point::new(x, 10.0),
        ]
    };
    let mut cell = Object::new(
        Kind::Cell,
        Geometry::Polygon(Polygon {
            exterior: square(0.0),
            holes: vec![vec![
                Point::new(2.0, 2.0),
                Point::new(4.0, 2.0),
                Point::new(3.0, 4.0),
            ]],
        }),
    );
    cell.nucleus = Some(Box::new(Geometry::Polygon(Polygon {
        exterior: square(3.25),
        holes: vec![],
    })));
    cell.class = Some(tumour);
    cell.measurements = vec![(area, 468.01523701590645), (prob, 0.875), (prob, f64::NAN)];
    cell.provenance = ai;
    cell.id = Some("0b8f9a4e-1c1d-4b8e-9b1a-2f4d6c8e0a11".into());
    cell.name = Some("細胞 \"1\"".into());
    a.objects.push(cell);
    let mut line = Object::new(
        Kind::Annotation,
        Geometry::Polyline(vec![
            Point::new(0.5, 0.5),
            Point::new(100.25, 3.0),
            Point::new(7.0, 8.0),
        ]),
    );
    line.colour = Some(Colour::rgb(1, 2, 3));
    line.locked = true;
    // A finding the specialist took over and changed.
    line.provenance = a.provenance_id(Provenance::Person {
        name: "Dr. Sato".into(),
        when: Some("2026-12-07T10:00:00+09:00".into()),
        edited_from: Some("margin-net 1.2".into()),
    });
    line.class = Some(plain);
    a.objects.push(line);
    a.objects.push(Object::new(
        Kind::Detection,
        Geometry::MultiPoint(vec![Point::new(1.0, 2.0), Point::new(3.0, 4.0)]),
    ));
    a.objects.push(Object::new(
        Kind::Tile,
        Geometry::MultiPolygon(vec![
            Polygon {
                exterior: square(20.0),
                holes: vec![],
            },
            Polygon {
                exterior: square(40.0),
                holes: vec![],
            },
        ]),
    ));
    a.objects.push(Object::new(
        Kind::Annotation,
        Geometry::Point(Point::new(123456.789, 0.001)),
    ));
    a
}

#[test]
fn geojson_round_trips_everything_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.geojson");
    let a = sample();
    let written = write(&path, &a, Format::GeoJson).unwrap();
    assert!(written.notes.is_empty());
    let (format, b) = read(&path).unwrap();
    assert_eq!(format, Format::GeoJson);
    assert_eq!(b.objects.len(), a.objects.len());
    for (x, y) in a.objects.iter().zip(&b.objects) {
        assert_eq!(x.kind, y.kind);
        assert_eq!(x.geometry, y.geometry);
        assert_eq!(x.nucleus, y.nucleus);
        assert_eq!(x.id, y.id);
        assert_eq!(x.name, y.name);
        assert_eq!(x.colour, y.colour);
        assert_eq!(x.locked, y.locked);
        assert_eq!(x.class.map(|c| a.class(c)), y.class.map(|c| b.class(c)));
        assert_eq!(a.provenance(x.provenance), b.provenance(y.provenance));
        // NaN measurements are left out (QuPath reads "missing" as NaN).
        let finite = |ann: &Annotations, o: &Object| -> Vec<(String, f64)> {
            o.measurements
                .iter()
                .filter(|m| m.1.is_finite())
                .map(|m| (ann.measurement_name(m.0).to_owned(), m.1))
                .collect()
        };
        assert_eq!(finite(&a, x), finite(&b, y));
    }
}

/// The notes of a write, one per line, as the log has them.
fn notes_text(written: &kh_annotations::Written) -> String {
    let lines: Vec<String> = written.notes.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

#[test]
fn asap_keeps_what_it_can_and_says_what_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.xml");
    let a = sample();
    let written = write(&path, &a, Format::AsapXml).unwrap();
    let notes = notes_text(&written);
    assert!(notes.contains("1 polygon holes left out"), "{notes}");
    assert!(
        notes.contains("1 polylines written as point sets"),
        "{notes}"
    );
    assert!(notes.contains("1 cell nuclei left out"), "{notes}");
    let (format, b) = read(&path).unwrap();
    assert_eq!(format, Format::AsapXml);
    // The multipolygon became two annotations.
    assert_eq!(b.objects.len(), a.objects.len() + 1);
    let Geometry::Polygon(p) = &b.objects[0].geometry else {
        panic!()
    };
    let Geometry::Polygon(q) = &a.objects[0].geometry else {
        panic!()
    };
    assert_eq!(p.exterior, q.exterior);
    assert_eq!(b.class(b.objects[0].class.unwrap()).name, "Tumor: Positive");
    assert_eq!(
        b.class(b.objects[0].class.unwrap()).colour,
        Some(Colour::rgb(200, 0, 0))
    );
    assert_eq!(b.objects[0].name.as_deref(), Some("細胞 \"1\""));
    assert_eq!(
        b.objects.last().unwrap().geometry,
        Geometry::Point(Point::new(123456.789, 0.001))
    );
}

#[test]
fn a_failed_write_leaves_the_old_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.geojson");
    std::fs::write(&path, "old").unwrap();
    // A directory where the file's folder should be: the write fails.
    let bad = dir.path().join("keep.geojson").join("x.geojson");
    assert!(write(&bad, &sample(), Format::GeoJson).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    write(&path, &sample(), Format::GeoJson).unwrap();
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("{\"type\":\"FeatureCollection\"")
    );
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn a_second_read_comes_from_the_cache_and_a_changed_file_is_parsed_again() {
    use kh_annotations::{CacheUse, Limits, read_cached};
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("a.geojson");
    write(&path, &sample(), Format::GeoJson).unwrap();
    let limits = Limits::default();
    let (_, first, used) = read_cached(&path, &cache, &limits, Default::default()).unwrap();
    assert_eq!(used, CacheUse::Written);
    let (_, second, used) = read_cached(&path, &cache, &limits, Default::default()).unwrap();
    assert_eq!(used, CacheUse::Hit);
    assert_eq!(first, second);
    // The file changes (another size): parsed again, never the stale cache.
    let mut fewer = sample();
    fewer.objects.truncate(2);
    write(&path, &fewer, Format::GeoJson).unwrap();
    let (_, third, used) = read_cached(&path, &cache, &limits, Default::default()).unwrap();
    assert_eq!(used, CacheUse::Written);
    assert_eq!(third.objects.len(), 2);
}

#[test]
fn dicom_ann_keeps_what_it_can_and_says_what_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.dcm");
    let a = sample();
    let written = write(&path, &a, Format::DicomAnn).unwrap();
    let notes = notes_text(&written);
    assert!(notes.contains("1 polygon holes dropped"), "{notes}");
    assert!(notes.contains("2 objects of several parts"), "{notes}");
    assert!(notes.contains("2 objects' own names"), "{notes}");
    assert!(!notes.contains("nuclei"), "{notes}");
    let (format, b) = read(&path).unwrap();
    assert_eq!(format, Format::DicomAnn);
    // Multipoint and multipolygon: one annotation per part.
    assert_eq!(b.objects.len(), a.objects.len() + 2);
    let cell = b.objects.iter().find(|o| o.kind == Kind::Cell).unwrap();
    let Geometry::Polygon(p) = &cell.geometry else {
        panic!()
    };
    let Geometry::Polygon(q) = &a.objects[0].geometry else {
        panic!()
    };
    assert_eq!(p.exterior, q.exterior);
    assert_eq!(cell.nucleus, a.objects[0].nucleus);
    let class = b.class(cell.class.unwrap());
    assert_eq!(class.name, "Tumor: Positive");
    assert_eq!(class.colour, Some(Colour::rgb(200, 0, 0)));
    assert_eq!(
        b.measurement(cell, "Nucleus: Area µm^2"),
        Some(f64::from(468.015_237_015_906_45_f64 as f32))
    );
    assert_eq!(b.measurement(cell, "Probability"), Some(0.875));
    assert_eq!(
        a.provenance(a.objects[0].provenance),
        b.provenance(cell.provenance)
    );
    let tiles = b.objects.iter().filter(|o| o.kind == Kind::Tile).count();
    assert_eq!(tiles, 2);
    assert!(
        b.objects
            .iter()
            .any(|o| o.geometry == Geometry::Point(Point::new(123456.789, 0.001)))
    );
    // The line kept its class (no colour: none to keep), its author (the
    // content creator), its own time and what it was taken over from (the
    // group's description), apart from the algorithm's run time.
    let line = b
        .objects
        .iter()
        .find(|o| matches!(o.geometry, Geometry::Polyline(_)))
        .unwrap();
    assert_eq!(b.class(line.class.unwrap()).name, "Stroma");
    assert!(matches!(
        b.provenance(line.provenance),
        Provenance::Person { name, when: Some(t), edited_from: Some(f) }
            if name == "Dr. Sato" && t == "2026-12-07T10:00:00+09:00" && f == "margin-net 1.2"
    ));
}

/// The fuzz target's property on every single-byte corruption and every
/// truncation of a file written here: an error or objects, never a panic,
/// and what reads writes and reads back the same.
#[test]
fn dicom_ann_survives_every_corruption() {
    use kh_annotations::Limits;
    use kh_annotations::dicom::{annotations_from_dicom, dicom_from_annotations};
    let mut file = Vec::new();
    dicom_from_annotations(&sample(), None, &mut file).unwrap();
    let limits = Limits::default();
    let check = |bytes: &[u8]| {
        if let Ok(a) = annotations_from_dicom(bytes, &limits, None) {
            let mut again = Vec::new();
            dicom_from_annotations(&a, None, &mut again).unwrap();
            let b = annotations_from_dicom(&again, &limits, None).unwrap();
            assert_eq!(a.objects.len(), b.objects.len());
        }
    };
    for len in 0..file.len() {
        check(&file[..len]);
    }
    for at in 0..file.len() {
        for value in [0x00, 0xFF, 0x7F] {
            let mut bad = file.clone();
            bad[at] = value;
            check(&bad);
        }
    }
}

#[test]
fn dicom_ann_refuses_more_groups_than_it_can_number() {
    let mut a = Annotations::default();
    for i in 0..=u32::from(u16::MAX) {
        let mut o = Object::new(Kind::Detection, Geometry::Point(Point::new(1.0, 2.0)));
        o.class = Some(a.class_id(&format!("class {i}"), None));
        a.objects.push(o);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.dcm");
    let err = write(&path, &a, Format::DicomAnn).unwrap_err();
    assert!(err.to_string().contains("65536 annotation groups"), "{err}");
    assert!(!path.exists(), "no half-written file");
}
