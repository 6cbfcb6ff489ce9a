package sinks_test

func updateChild() error { return nil }
