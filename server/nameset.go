package server

import "slices"

// nameSet is a small set of names, a sorted slice: a connection's joined
// rooms and subscribed maps. A connection is in a few rooms (at most
// Config.MaxRoomsPerConn, 100 by default), and a slice of one name costs
// 16 bytes where a map costs about 200; it is also listed in order for free.
// The zero value is an empty set.
type nameSet []string

// has reports whether name is in the set.
func (s nameSet) has(name string) bool {
	_, ok := slices.BinarySearch(s, name)
	return ok
}

// add puts name in the set; it reports whether it was not there.
func (s *nameSet) add(name string) bool {
	i, ok := slices.BinarySearch(*s, name)
	if ok {
		return false
	}
	*s = slices.Insert(*s, i, name)
	return true
}

// remove takes name out of the set; it reports whether it was there. The
// set lets go of its array when it becomes empty.
func (s *nameSet) remove(name string) bool {
	i, ok := slices.BinarySearch(*s, name)
	if !ok {
		return false
	}
	*s = slices.Delete(*s, i, i+1)
	if len(*s) == 0 {
		*s = nil
	}
	return true
}

// list returns a copy of the names, sorted.
func (s nameSet) list() []string {
	return append(make([]string, 0, len(s)), s...)
}
