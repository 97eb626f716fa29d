# kh, the command line: what it prints for people.

cli-error = kh: error: { $problem }
