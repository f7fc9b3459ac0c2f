package bundle

// embedded is the archive compiled into this binary for its architecture.
func embedded() (*archive, error) {
	return loadArchive(assets, assetDir)
}
