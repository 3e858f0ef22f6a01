package fs

// GetAvailableSpace returns the bytes available in the folder holding dirName (AVBL). It needs
// the "list" permission.
func (t *Tree) GetAvailableSpace(dirName string) (int64, error) {
	n, err := t.resolve(dirName)
	if err != nil {
		return 0, err
	}
	switch {
	case n.reserved:
		return 0, fail(n.vpath, errNotExist)
	case n.m == nil && n.ancestor:
		return 0, fail(n.vpath, errUnavailable)
	case n.m == nil:
		return 0, fail(n.vpath, errNotExist)
	}
	if err := need(n, PermList); err != nil {
		return 0, err
	}
	avail, err := n.m.b.Available()
	if q := n.m.quota; q != nil {
		if left, capped := q.left(); capped && (err != nil || left < avail) {
			return left, nil
		}
	}
	if err != nil {
		return 0, t.osError("statfs", n.vpath, err)
	}
	return avail, nil
}
