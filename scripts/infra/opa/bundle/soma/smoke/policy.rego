# The harness smoke policy: the shape of SomaAgent's per-operation checks (tenant isolation plus
# OAuth scopes), small enough to read in one go. Served by `opa run` as a bundle and compiled to
# wasm for in-process evaluation; both must decide alike (scripts/infra/test/opa.contract.test.ts).
package soma.smoke

default allow := false

# A tenant admin may do anything inside their own tenant.
allow if {
	same_tenant
	"soma:admin" in input.subject.scopes
}

# Otherwise the action needs its scope (bundle data: action_scopes), inside the subject's tenant.
allow if {
	same_tenant
	data.soma.smoke.action_scopes[input.action] in input.subject.scopes
}

same_tenant if input.subject.tenant == input.resource.tenant

# A helper rule, not `not data...[input.action]` inline: with no `input.action` at all the
# inline form is undefined, so that reason would silently vanish.
known_action if data.soma.smoke.action_scopes[input.action]

# Why a request is refused, for error messages (empty when allowed).
reasons contains "cross-tenant" if not same_tenant

reasons contains msg if {
	not known_action
	msg := sprintf("unknown action %s", [json.marshal(object.get(input, "action", null))])
}

reasons contains msg if {
	not allow
	same_tenant
	scope := data.soma.smoke.action_scopes[input.action]
	msg := sprintf("missing scope %s", [scope])
}
