package dataframe

// Conditional functions.

func init() {
	register(
		&funcDef{name: "coalesce", group: "conditional", usage: "coalesce(x, ...)", doc: "the first non-NULL argument", minArgs: 1, maxArgs: -1, bind: bindCoalesce},
		&funcDef{name: "nullif", group: "conditional", usage: "nullif(x, y)", doc: "NULL when x = y, else x", minArgs: 2, maxArgs: 2, bind: bindNullIf},
		&funcDef{name: "if", group: "conditional", usage: "if(cond, x, y)", doc: "x when cond is TRUE, else y (also when cond is NULL)", minArgs: 3, maxArgs: 3, bind: bindIf},
		&funcDef{name: "ifnull", group: "conditional", usage: "ifnull(x, y)", doc: "x unless it is NULL, else y", minArgs: 2, maxArgs: 2, bind: bindCoalesce},
		&funcDef{name: "nvl2", group: "conditional", usage: "nvl2(x, y, z)", doc: "y when x is not NULL, else z", minArgs: 3, maxArgs: 3, bind: bindNvl2},
	)
	alias("nvl", "ifnull")
}

func bindCoalesce(args []*bexpr) (Type, kernel, error) {
	t, err := unifyArgs(args, 0)
	if err != nil {
		return 0, nil, err
	}
	return t, func(n int, a []*vector, sel []int32) *vector {
		out := newVector(t, n)
		rest := sel
		for _, v := range a {
			if len(rest) == 0 {
				break
			}
			if v.valid == nil {
				copyRows(out, v, rest, n)
				rest = nil
				break
			}
			var missing []int32
			var hit []int32
			for _, i := range rest {
				if v.valid[i] {
					hit = append(hit, i)
				} else {
					missing = append(missing, i)
				}
			}
			copyRows(out, v, hit, n)
			rest = missing
		}
		for _, i := range rest {
			out.setNull(i, n)
		}
		return out
	}, nil
}

func bindNullIf(args []*bexpr) (Type, kernel, error) {
	eq, err := bindBinary(opEq, args[0], args[1])
	if err != nil {
		return 0, nil, err
	}
	args[0], args[1] = eq.args[0], eq.args[1]
	t := args[0].typ
	if t == nullType {
		t = Int32
		args[0], args[1] = castTo(args[0], t), castTo(args[1], t)
	}
	return t, func(n int, a []*vector, sel []int32) *vector {
		out := newVector(t, n)
		copyRows(out, a[0], sel, n)
		for _, i := range sel {
			if !a[0].null(i) && !a[1].null(i) && compareValues(a[0].get(i), a[1].get(i), t) == 0 {
				out.setNull(i, n)
			}
		}
		return out
	}, nil
}

func bindIf(args []*bexpr) (Type, kernel, error) {
	c, err := expectBool("if", args[0])
	if err != nil {
		return 0, nil, err
	}
	args[0] = c
	t, err := unifyArgs(args, 1)
	if err != nil {
		return 0, nil, err
	}
	return t, choose(t, func(c *vector, i int32) bool { return !c.null(i) && c.b[i] }), nil
}

func bindNvl2(args []*bexpr) (Type, kernel, error) {
	if args[0].typ == nullType {
		args[0] = castTo(args[0], Int32)
	}
	t, err := unifyArgs(args, 1)
	if err != nil {
		return 0, nil, err
	}
	return t, choose(t, func(c *vector, i int32) bool { return !c.null(i) }), nil
}

// choose is the kernel of a function of three arguments whose result is
// the second where yes(first, row) holds, else the third.
func choose(t Type, yes func(c *vector, i int32) bool) kernel {
	return func(n int, a []*vector, sel []int32) *vector {
		out := newVector(t, n)
		var hit, miss []int32
		for _, i := range sel {
			if yes(a[0], i) {
				hit = append(hit, i)
			} else {
				miss = append(miss, i)
			}
		}
		copyRows(out, a[1], hit, n)
		copyRows(out, a[2], miss, n)
		return out
	}
}
