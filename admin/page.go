package admin

import "net/http"

// pageRoutes registers the status page's paths.
func (s *Server) pageRoutes() {
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.pageError(w, r, http.StatusNotFound, "Not found.")
	})
}

// pageError answers a page request with a short message.
func (s *Server) pageError(w http.ResponseWriter, _ *http.Request, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(msg + "\n"))
}
