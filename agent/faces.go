package agent

// faces lists the faces every member runs, in the order they are opened;
// each is built from the agent's Config. Adding a face is a file with its
// Face implementation and one line here. Config.ExtraFaces come last.
func faces(cfg Config) []Face {
	builtin := []Face{&sqlFace{cfg: cfg.SQL}, &resourceFace{cfg: cfg.Resource}, &consoleFace{}}
	return append(builtin, cfg.ExtraFaces...)
}
