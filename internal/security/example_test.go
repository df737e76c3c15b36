package security_test

import (
	"fmt"

	"github.com/coderclaw/coderclaw/internal/security"
)

func Example() {
	node, err := security.ParseNode("security.yaml", []byte(`
roles:
  team-developer:
    inherits: developer
    additionalPermissions: [config:write]
`))
	if err != nil {
		panic(err)
	}
	p, err := node.WithRepo(".coderClaw/security.yaml", []byte(`
agentPolicies:
  - agentId: code-reviewer
    allowedRoles: [developer, admin]
    requireDeviceTrust: verified
`))
	if err != nil {
		panic(err)
	}
	dev := security.Subject{UserID: "ana", Roles: []string{"team-developer"}, Trust: security.Verified}
	ci := security.Subject{UserID: "bot", Roles: []string{"ci"}, Trust: security.Trusted}
	fmt.Println(p.CheckPermission(dev, security.ConfigWrite))
	fmt.Println(p.CheckAgentAccess(dev, "code-reviewer"))
	fmt.Println(p.CheckAgentAccess(ci, "code-reviewer"))
	fmt.Println(p.CheckPermission(ci, security.TaskCancel))

	_, err = security.ParseNode("security.yaml", []byte("roles:\n  a: {inherits: b}\n  b: {inherits: a}\n"))
	fmt.Println(err)
	// Output:
	// allowed by node security.yaml: roles.team-developer
	// allowed by node security.yaml: roles.team-developer
	// agent code-reviewer requires one of the roles developer, admin; the user has the role ci (repo .coderClaw/security.yaml: agentPolicies[code-reviewer].allowedRoles)
	// permission task:cancel is not granted; the user has the role ci (permission task:cancel)
	// security.yaml:2: roles.a: inheritance cycle a -> b -> a
}
