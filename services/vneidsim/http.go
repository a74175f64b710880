package vneidsim

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

const maxBody = 16 << 10

type errorBody struct {
	Error   string `json:"error"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message,omitempty"`
}

type matchRequest struct {
	FaceRef string `json:"face_ref"`
	Device  string `json:"device"`
}

type matchResponse struct {
	Assertion string `json:"assertion"`
	ExpiresAt string `json:"expires_at"`
}

func (s *Server) newApp() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "vneid-sim",
		DisableStartupMessage: true,
		BodyLimit:             maxBody,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           60 * time.Second,
		ErrorHandler:          s.handleError,
	})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/.well-known/jwks.json", s.handleJWKS)
	app.Post("/v1/citizens", s.handleEnroll)
	app.Post("/v1/match", s.requireClientKey, s.handleMatch)
	app.Post("/v1/admin/rotate", s.requireClientKey, s.handleRotate)
	app.Delete("/v1/admin/keys/:kid", s.requireClientKey, s.handleRemoveKey)
	return app
}

// handleError is the one place errors become HTTP statuses.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	var (
		status = fiber.StatusInternalServerError
		body   = errorBody{Error: "internal"}
		ve     *ValidationError
		fe     *fiber.Error
	)
	switch {
	case errors.As(err, &ve):
		status, body = fiber.StatusBadRequest, errorBody{Error: "invalid_request", Field: ve.Field, Message: ve.Message}
	case errors.Is(err, ErrInvalidMatch), errors.Is(err, errBadJSON):
		status, body = fiber.StatusBadRequest, errorBody{Error: "invalid_request", Message: strings.TrimPrefix(err.Error(), "vneidsim: ")}
	case errors.Is(err, ErrUnauthorized):
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="vneid-sim"`)
		status, body = fiber.StatusUnauthorized, errorBody{Error: "unauthorized"}
	case errors.Is(err, ErrNoMatch):
		status, body = fiber.StatusNotFound, errorBody{Error: "no_match"}
	case errors.Is(err, ErrKeyNotFound):
		status, body = fiber.StatusNotFound, errorBody{Error: "key_not_found"}
	case errors.Is(err, ErrKeyInUse):
		status, body = fiber.StatusConflict, errorBody{Error: "key_in_use"}
	case errors.As(err, &fe):
		status = fe.Code
		switch fe.Code {
		case fiber.StatusNotFound:
			body = errorBody{Error: "not_found"}
		case fiber.StatusMethodNotAllowed:
			body = errorBody{Error: "method_not_allowed"}
		case fiber.StatusRequestEntityTooLarge:
			body = errorBody{Error: "body_too_large"}
		default:
			body = errorBody{Error: "http_error", Message: fe.Message}
		}
	default:
		s.log.ErrorContext(c.UserContext(), "request failed", "method", c.Method(), "path", c.Route().Path, "err", err)
	}
	return c.Status(status).JSON(body)
}

var errBadJSON = errors.New("vneidsim: request body must be one JSON object with known fields")

// decodeJSON is strict: unknown fields and trailing data are refused.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadJSON
	}
	return nil
}

// requireClientKey compares hashes so the comparison takes the same time
// whatever the length or content of the presented key.
func (s *Server) requireClientKey(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ErrUnauthorized
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	want := sha256.Sum256([]byte(s.cfg.ClientKey))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return ErrUnauthorized
	}
	return c.Next()
}

func (s *Server) handleJWKS(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	return c.JSON(s.JWKS())
}

func (s *Server) handleEnroll(c *fiber.Ctx) error {
	var e Enrollment
	if err := decodeJSON(c.Body(), &e); err != nil {
		return err
	}
	out, created, err := s.Enroll(c.UserContext(), e)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(out)
}

func (s *Server) handleMatch(c *fiber.Ctx) error {
	var req matchRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	tok, exp, err := s.Match(c.UserContext(), req.FaceRef, req.Device)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(matchResponse{Assertion: tok, ExpiresAt: exp.Format(time.RFC3339)})
}

func (s *Server) handleRotate(c *fiber.Ctx) error {
	kid, err := s.Rotate(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"kid": kid})
}

func (s *Server) handleRemoveKey(c *fiber.Ctx) error {
	if err := s.RemoveKey(c.UserContext(), strings.Clone(c.Params("kid"))); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
