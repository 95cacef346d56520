package gateway

// The forwarding to the backend, as ESPv2's router and backend_auth filter
// do it: path translation, the headers API Gateway sets, the deadline.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/spec"
)

// forwarding is what the proxy needs beyond the outgoing request: the
// verified payloads (for Rewrite) and the method the client sent (for
// ModifyResponse).
type forwarding struct {
	payloads     []string
	clientMethod string
}

type forwardingKey struct{}

// forward proxies to the backend the way ESPv2 does: the verified payload
// in X-Apigateway-Api-Userinfo, the gateway's token in Authorization (the
// caller's copied to X-Forwarded-Authorization) unless disable_auth, the
// path per path_translation, one retry on a connect failure or a reset,
// and the backend deadline enforced.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, rt *route, method, path string, payloads []string) {
	deadline := rt.backend.Deadline
	if deadline == 0 {
		deadline = defaultDeadline
	}
	fw := &forwarding{payloads: payloads, clientMethod: r.Method}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), forwardingKey{}, fw), deadline)
	defer cancel()
	out := r.WithContext(ctx) // a copy: r.Method stays the client's
	out.Method = method
	out.URL = cloneURL(r.URL)
	out.URL.RawPath = path
	if p, err := url.PathUnescape(path); err == nil {
		out.URL.Path = p
	}
	if err := bufferForRetry(out); err != nil {
		writeError(w, http.StatusBadRequest, msgBadRequest)
		return
	}
	rt.proxy.ServeHTTP(w, out)
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}

// newProxy builds the reverse proxy for one route.
func (g *Gateway) newProxy(rt *route) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: retryOnce{g.opts.Transport},
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			u := *rt.target
			escaped := pr.In.URL.RawPath
			query := pr.In.URL.RawQuery
			switch rt.backend.PathTranslation {
			case spec.AppendPathToAddress:
				base := strings.TrimSuffix(u.EscapedPath(), "/")
				u.Path = strings.TrimSuffix(u.Path, "/") + pr.In.URL.Path
				u.RawPath = base + escaped
			default:
				// CONSTANT_ADDRESS: the address as is, with the path's
				// variables appended to the query string.
				if u.Path == "" {
					u.Path = "/"
				}
				u.RawPath = ""
				if vars := pathVariables(rt.segments, escaped); vars != "" {
					if query != "" {
						query += "&"
					}
					query += vars
				}
			}
			u.RawQuery = query
			out.URL = &u
			// Envoy rewrites Host to the backend's host name (route
			// host_rewrite_literal), without a port.
			out.Host = u.Hostname()
			if xff := pr.In.Header.Values("X-Forwarded-For"); len(xff) > 0 {
				out.Header["X-Forwarded-For"] = xff
			}
			out.Header.Set("X-Forwarded-Proto", "http")
			if pr.In.TLS != nil {
				out.Header.Set("X-Forwarded-Proto", "https")
			}
			if !rt.backend.DisableAuth {
				if authz := pr.In.Header.Get("Authorization"); authz != "" {
					out.Header.Add(forwardedAuthz, authz) // added to any the client sent
				}
				out.Header.Set("Authorization", rt.standIn)
			}
			if fw, _ := pr.In.Context().Value(forwardingKey{}).(*forwarding); fw != nil {
				for _, p := range fw.payloads {
					out.Header.Add(userinfoHeader, p)
				}
			}
		},
		ModifyResponse: func(res *http.Response) error {
			if fw, _ := res.Request.Context().Value(forwardingKey{}).(*forwarding); fw != nil {
				frameFor(res, fw.clientMethod)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded) {
				writeError(w, http.StatusGatewayTimeout, msgUpstreamTime)
				return
			}
			if r.Context().Err() != nil {
				return // the client went away
			}
			writeError(w, http.StatusServiceUnavailable, msgUpstreamReset+resetReason(err))
		},
	}
}

// standInToken is what the twin puts in the backend's Authorization where
// API Gateway puts a Google-signed ID token of the gateway's service
// account (audience jwt_audience, else the backend address; email the
// account's). It is unsigned and says what it is, so nothing can mistake
// it for the real one; the backend decodes it as it decodes the token
// Cloud Run verified, whose signature Cloud Run removes.
func standInToken(b spec.Backend, email string) string {
	aud := b.JWTAudience
	if aud == "" {
		if u, err := url.Parse(b.Address); err == nil {
			aud = u.Scheme + "://" + u.Host
		}
	}
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	claims := map[string]string{
		"iss":  "gatehouse-local-twin",
		"sub":  "local-gateway",
		"aud":  aud,
		"note": "stand-in: API Gateway sends a Google-signed ID token of its service account here",
	}
	if email != "" {
		claims["email"] = email
	}
	payload, _ := json.Marshal(claims)
	return "Bearer " + base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}

// frameFor makes the backend's answer to the method it was sent (which
// X-HTTP-Method-Override may have changed) readable by a client that sent
// clientMethod: a HEAD client gets no body, whatever the backend sent, and
// keeps the headers describing it, as a HEAD response does (RFC 9110
// section 9.3.2); any other client of a HEAD answer gets an empty body of
// length 0, not the Content-Length of a body the backend did not send.
func frameFor(res *http.Response, clientMethod string) {
	sent := res.Request.Method
	switch {
	case clientMethod == http.MethodHead && sent != http.MethodHead:
		_ = res.Body.Close()
		res.Body = http.NoBody
	case sent == http.MethodHead && clientMethod != http.MethodHead:
		res.Header.Del("Content-Length")
		res.ContentLength = 0
	}
}
