package resource

// CommandGrows reports whether a command payload (what Backend proposes as
// node.TypeResource) may grow the state: writes and status updates do,
// deletes do not. The agent's space-quota guard refuses the first kind
// while the NOSPACE alarm is raised and lets deletes through, as etcd does.
// An undecodable payload counts as growing.
func CommandGrows(payload []byte) bool {
	return len(payload) < 2 || op(payload[1]) != opDelete
}
