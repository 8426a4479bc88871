package instrument

// cached reports how many names r holds in its cache.
func (r *Recorder) cached() int {
	if c := r.cache.Load(); c != nil {
		return c.size
	}
	return 0
}
