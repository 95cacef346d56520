package cloud

import (
	"fmt"
)

// Firebase Management v1beta1 (terraform-provider-google-beta v5.42.0
// firebase/resource_firebase_project.go, resource_firebase_web_app.go,
// data_source_google_firebase_web_app_config.go). There is no recorded
// Firebase traffic in k8s-config-connector; the shapes follow the
// discovery document's FirebaseProject, WebApp and WebAppConfig schemas.
//   - projects.get answers 404 until Firebase is added (the provider
//     adopts a project whose get succeeds: resource_firebase_project.go:33-57).
//   - addFirebase needs firebase.projects.update, resourcemanager.projects.get,
//     serviceusage.services.enable and serviceusage.services.get
//     (https://firebase.google.com/docs/reference/firebase-management/rest/v1beta1/projects/addFirebase);
//     a second call is 409 ALREADY_EXISTS.
//   - A Firebase project is never deleted (the provider's delete is a no-op).
func (c *Cloud) firebase(s *Service) {
	proj := func(r *Request) string { return c.projectResource(r.Var("projectsId")) }
	app := func(r *Request) string { return proj(r) + "/webApps/" + r.Var("webAppsId") }
	fbKey := func(p *Project) string { return "firebase/projects/" + p.ID }
	opName := func() string { return "operations/workflows/" + c.st.hexID(32, "fb") }
	const meta = "type.googleapis.com/google.protobuf.Empty"

	s.Methods["firebase.projects.get"] = &Method{Permission: "firebase.projects.get", Resource: proj,
		Handle: func(r *Request) (any, error) {
			obj, ok := c.st.Objects[fbKey(r.Project)]
			if !ok {
				return nil, NotFound("Firebase project %s not found: Firebase has not been added to it.", r.Project.ID)
			}
			return clone(obj), nil
		}}
	s.Methods["firebase.projects.addFirebase"] = &Method{Permission: "firebase.projects.update", Resource: proj,
		Extra: func(*Request) []string {
			return []string{"resourcemanager.projects.get", "serviceusage.services.enable", "serviceusage.services.get"}
		},
		Handle: func(r *Request) (any, error) {
			p := r.Project
			obj := map[string]any{
				"name": "projects/" + p.ID, "projectId": p.ID, "projectNumber": p.Number, "displayName": p.ID, "state": "ACTIVE",
				"resources": map[string]any{"hostingSite": p.ID, "storageBucket": p.ID + ".appspot.com"},
			}
			if err := c.create(fbKey(p), "Firebase project", obj); err != nil {
				return nil, err
			}
			return c.startOp(opName(), meta, "", "", "type.googleapis.com/google.firebase.service.v1beta1.FirebaseProject", obj), nil
		}}
	s.Methods["firebase.projects.webApps.create"] = &Method{Permission: "firebase.clients.create", Resource: proj,
		Handle: func(r *Request) (any, error) {
			p := r.Project
			if _, ok := c.st.Objects[fbKey(p)]; !ok {
				return nil, FailedPrecondition("Firebase has not been added to project %s.", p.ID)
			}
			id := "1:" + p.Number + ":web:" + c.st.hexID(22, p.ID, "web")
			n := "projects/" + p.ID + "/webApps/" + id
			obj := clone(r.Body)
			merge(obj, map[string]any{"name": n, "appId": id, "projectId": p.ID, "state": "ACTIVE",
				"apiKeyId": c.uuid(), "webId": c.st.hexID(32, id), "etag": c.st.etag()})
			if err := c.create(n, "Web app", obj); err != nil {
				return nil, err
			}
			return c.startOp(opName(), meta, "", "", "type.googleapis.com/google.firebase.service.v1beta1.WebApp", obj), nil
		}}
	s.Methods["firebase.projects.webApps.get"] = &Method{Permission: "firebase.clients.get", Resource: app,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(app(r), "Web app")
			return clone(obj), err
		}}
	s.Methods["firebase.projects.webApps.patch"] = &Method{Permission: "firebase.clients.update", Resource: app,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(app(r), "Web app")
			if err != nil {
				return nil, err
			}
			applyMask(obj, r.Body, r.Query.Get("updateMask"), "name", "appId", "projectId", "state", "apiKeyId", "webId", "etag")
			obj["etag"] = c.st.etag()
			return clone(obj), nil
		}}
	s.Methods["firebase.projects.webApps.remove"] = &Method{Permission: "firebase.clients.delete", Resource: app,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(app(r), "Web app")
			if err != nil {
				return nil, err
			}
			if r.Body["immediate"] == true {
				c.st.deleteObject(app(r))
			} else {
				obj["state"] = "DELETED"
			}
			return c.startOp(opName(), meta, "", "", "type.googleapis.com/google.firebase.service.v1beta1.WebApp", obj), nil
		}}
	s.Methods["firebase.projects.webApps.getConfig"] = &Method{Permission: "firebase.clients.get", Resource: app,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(app(r), "Web app")
			if err != nil {
				return nil, err
			}
			p := r.Project
			return map[string]any{
				"projectId": p.ID, "appId": obj["appId"], "apiKey": "AIza" + c.apiKey(p.ID, obj["appId"]),
				"authDomain": p.ID + ".firebaseapp.com", "messagingSenderId": p.Number, "storageBucket": p.ID + ".appspot.com",
			}, nil
		}}
	s.Methods["firebase.operations.get"] = &Method{Resource: func(r *Request) string { return "operations/" + r.Var("operationsId") }, Handle: c.getOp}
}

// apiKey is a stable 35-character key body for a web app.
func (c *Cloud) apiKey(project string, appID any) string {
	h := projectNumber(fmt.Sprint(project, appID)) + projectNumber(fmt.Sprint(appID, project)) + projectNumber(fmt.Sprint(project, project, appID))
	return ("Sy" + h + "abcdefghijklmnopqrstuvwxyz")[:35]
}
