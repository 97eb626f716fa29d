# Words every part of Kakehashi shares.

common-product = Kakehashi
common-age-years = { $years } y
common-age-years-months = { $years } y { $months } m
common-sex-female = Female
common-sex-male = Male
common-sex-other = Other
common-sex-unknown = Unknown
# Languages are named in themselves, in every language.
common-language-ja = 日本語
common-language-en = English

## Dates: { $month2 } and { $day2 } are two digits, { $month } and { $day } as they are
common-date-time = { $year }-{ $month2 }-{ $day2 } { $time }

## A file or the system refusing, in words; the library's detail follows
common-file-problem = { $path }: { $kind } ({ $detail })
common-file-in-object = object { $index }: { $reason }
common-file-io = cannot be read or written
common-file-not-a-slide = not a slide format Kakehashi reads
common-file-not-annotations = not an annotation format Kakehashi reads
common-file-corrupt = the file is damaged
common-file-limit = the file asks for more than Kakehashi will hold
common-file-no-such-part = the slide has no such level, tile or image
common-io-not-found = no such file or folder
common-io-permission = permission denied
common-io-exists = it already exists
common-io-full = the disk is full

## What an annotation export had to approximate or leave out
common-annotations-loss-asap-holes = { $count } polygon holes left out (ASAP polygons have none)
common-annotations-loss-asap-polylines = { $count } polylines written as point sets (ASAP has no polylines)
common-annotations-loss-asap-ellipses = { $count } ellipses written as polygons (ASAP has no ellipses)
common-annotations-loss-asap-nuclei = { $count } cell nuclei left out (ASAP has no cells)
common-annotations-loss-asap-measurements = { $count } objects' measurements left out (ASAP has none)
common-annotations-loss-dicom-holes = { $count } polygon holes dropped (DICOM ANN polygons have none)
common-annotations-loss-dicom-split = { $count } objects of several parts written as one annotation per part
common-annotations-loss-dicom-nuclei = { $count } nuclei dropped (kept only as one polygon on a one-polygon cell)
common-annotations-loss-dicom-own-style = { $count } objects' own names, colours or locks dropped (DICOM ANN keeps them per group)
common-annotations-loss-dicom-degenerate = { $count } shapes with too few points skipped
common-annotations-loss-dicom-names-cut = { $count } class or measurement names cut to 64 characters
common-annotations-loss-dicom-creators = { $count } people besides the first not named (DICOM ANN names one content creator)
