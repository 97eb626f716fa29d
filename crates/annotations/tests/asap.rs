//! ASAP XML: the shapes ASAP writes, groups as classes, and broken files.

use kh_annotations::asap::annotations_from_asap;
use kh_annotations::{Annotations, Colour, ErrorKind, Fault, Geometry, Limits, Point};

fn read(xml: &str) -> Annotations {
    annotations_from_asap(xml.as_bytes(), &Limits::default()).unwrap_or_else(|f| panic!("{f}"))
}

fn fault(xml: &str, limits: &Limits) -> Fault {
    match annotations_from_asap(xml.as_bytes(), limits) {
        Ok(a) => panic!("read {} objects", a.objects.len()),
        Err(f) => f,
    }
}

fn file(annotations: &str, groups: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<ASAP_Annotations>
	<Annotations>{annotations}</Annotations>
	<AnnotationGroups>{groups}</AnnotationGroups>
</ASAP_Annotations>"#
    )
}

fn annotation(name: &str, shape: &str, group: &str, points: &[(f64, f64)]) -> String {
    let coords: String = points
        .iter()
        .enumerate()
        .map(|(i, (x, y))| format!(r#"<Coordinate Order="{i}" X="{x}" Y="{y}" />"#))
        .collect();
    format!(
        r##"<Annotation Name="{name}" Type="{shape}" PartOfGroup="{group}" Color="#F4FA58"><Coordinates>{coords}</Coordinates></Annotation>"##
    )
}

#[test]
fn every_asap_shape_reads_with_its_group() {
    let square = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
    let xml = file(
        &[
            annotation("dot", "Dot", "None", &[(1.5, 2.5)]),
            annotation("set", "PointSet", "tumor", &[(1.0, 1.0), (2.0, 2.0)]),
            annotation("poly &amp; more", "Polygon", "tumor", &square),
            annotation("rect", "Rectangle", "stroma", &square),
            annotation("spline", "Spline", "None", &square),
            annotation("ruler", "Measurement", "None", &[(0.0, 0.0), (3.0, 4.0)]),
        ]
        .concat(),
        r##"<Group Name="tumor" PartOfGroup="None" Color="#64FE2E"><Attributes /></Group>
            <Group Name="stroma" PartOfGroup="None" Color="#0000FF"><Attributes /></Group>"##,
    );
    let a = read(&xml);
    let names: Vec<&str> = a.objects.iter().map(|o| o.geometry.name()).collect();
    assert_eq!(
        names,
        [
            "point",
            "multipoint",
            "polygon",
            "rectangle",
            "polygon",
            "polyline"
        ]
    );
    assert_eq!(a.objects[0].geometry, Geometry::Point(Point::new(1.5, 2.5)));
    assert_eq!(a.objects[2].name.as_deref(), Some("poly & more"));
    assert_eq!(a.objects[0].colour, Some(Colour::rgb(0xF4, 0xFA, 0x58)));
    let tumour = a.class(a.objects[1].class.unwrap());
    assert_eq!(
        (tumour.name.as_str(), tumour.colour),
        ("tumor", Some(Colour::rgb(0x64, 0xFE, 0x2E)))
    );
    assert_eq!(
        a.class(a.objects[3].class.unwrap()).colour,
        Some(Colour::rgb(0, 0, 255))
    );
    assert_eq!(a.objects[0].class, None);
}

#[test]
fn coordinates_follow_their_order_not_the_file_order() {
    let xml = file(
        r#"<Annotation Name="a" Type="Polygon" PartOfGroup="None" Color="">
        <Coordinates><Coordinate Order="2" X="10" Y="10"/><Coordinate Order="0" X="0" Y="0"/>
        <Coordinate Order="1" X="10" Y="0"/></Coordinates></Annotation>"#,
        "",
    );
    let a = read(&xml);
    let Geometry::Polygon(p) = &a.objects[0].geometry else {
        panic!()
    };
    assert_eq!(
        p.exterior,
        [
            Point::new(0.0, 0.0),
            Point::new(10.0, 0.0),
            Point::new(10.0, 10.0)
        ]
    );
}

#[test]
fn broken_files_fail_naming_the_object() {
    let limits = Limits::default();
    let good = annotation("a", "Dot", "None", &[(1.0, 1.0)]);
    let cases = [
        (
            format!(
                r#"{good}<Annotation Name="b" Type="Dot"><Coordinates><Coordinate X="abc" Y="1"/></Coordinates></Annotation>"#
            ),
            "not a number",
        ),
        (
            format!(
                r#"{good}<Annotation Name="b" Type="Dot"><Coordinates><Coordinate X="NaN" Y="1"/></Coordinates></Annotation>"#
            ),
            "finite",
        ),
        (
            format!(
                r#"{good}<Annotation Name="b" Type="Dot"><Coordinates><Coordinate X="1e12" Y="1"/></Coordinates></Annotation>"#
            ),
            "beyond",
        ),
        (
            format!(
                r#"{good}<Annotation Name="b" Type="Polygon"><Coordinates><Coordinate X="1" Y="1"/></Coordinates></Annotation>"#
            ),
            "needs 3",
        ),
        (
            format!(
                r#"{good}<Annotation Name="b" Type="Circle"><Coordinates><Coordinate X="1" Y="1"/></Coordinates></Annotation>"#
            ),
            "Circle",
        ),
        (
            format!(
                r#"{good}<Annotation Name="b" Type="Dot"><Coordinates><Coordinate Y="1"/></Coordinates></Annotation>"#
            ),
            "without X",
        ),
        (
            format!(r#"{good}<Annotation Name="b"><Coordinates></Coordinates></Annotation>"#),
            "without a Type",
        ),
    ];
    for (body, why) in cases {
        let f = fault(&file(&body, ""), &limits);
        assert_eq!(f.object, Some(1), "{f}");
        assert!(f.reason.contains(why), "{f} (wanted {why:?})");
    }
    // Truncated mid-annotation.
    let xml = file(&good, "");
    let cut = &xml[..xml.find("</Coordinates>").unwrap()];
    let f = fault(cut, &limits);
    assert_eq!(f.kind, ErrorKind::Corrupt, "{f}");
    assert!(fault("<svg></svg>", &limits).reason.contains("not ASAP"));
    assert_eq!(fault("<a><b></a>", &limits).kind, ErrorKind::Corrupt);
}

#[test]
fn limits_hold_for_vertices_objects_and_endless_tags() {
    let limits = Limits {
        max_vertices_per_object: 10,
        max_objects: 2,
        ..Limits::default()
    };
    let many: Vec<(f64, f64)> = (0..11).map(|i| (i as f64, 0.0)).collect();
    let f = fault(
        &file(&annotation("a", "PointSet", "None", &many), ""),
        &limits,
    );
    assert_eq!((f.kind, f.object), (ErrorKind::Limit, Some(0)), "{f}");
    let dot = annotation("a", "Dot", "None", &[(1.0, 1.0)]);
    let f = fault(&file(&dot.repeat(3), ""), &limits);
    assert_eq!((f.kind, f.object), (ErrorKind::Limit, Some(2)), "{f}");
    // One tag of 4 MiB: refused before it is held whole.
    let endless = format!(
        r#"<ASAP_Annotations><Annotation Name="{}"#,
        "x".repeat(4 << 20)
    );
    let f = fault(&endless, &Limits::default());
    assert!(f.reason.contains("longer than"), "{f}");
}
