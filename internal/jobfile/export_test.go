package jobfile

// Parse and Options let the tests parse job text without writing a file.
var Parse = parse

type Options = options
