//go:build noengine

package main

import (
	"context"
	"errors"
)

var errNoEngine = errors.New("built with -tags noengine")

func runEngine(context.Context, engineOptions) (engineRun, error) { return engineRun{}, errNoEngine }
func engineChild(context.Context, *config) error                  { return errNoEngine }
