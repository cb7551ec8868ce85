package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// newWhere declares the demo's "who is on which page" board, msg.WhereMap:
// a user writes their own entry only (key = their user id; the name is
// the connection's), with a TTL of at most msg.WhereTTL, so that the board
// forgets an app that went away.
func newWhere(ctx context.Context, s *server.Server) (*server.Map[string, msg.Whereabouts], error) {
	m, err := server.NewMap[string, msg.Whereabouts](ctx, s, msg.WhereMap, server.MapOptions{MaxValueBytes: 256})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	m.OnWrite(func(ctx context.Context, w server.ClientWrite[string, msg.Whereabouts]) (msg.Whereabouts, error) {
		switch {
		case w.Key != w.Conn.User():
			return msg.Whereabouts{}, &shared.Error{Code: shared.CodeForbidden, Field: "data.key", Message: "You may write your own whereabouts only (the key is your user id)."}
		case w.Delete:
			return msg.Whereabouts{}, nil
		case !msg.ValidPage(w.Value.Page):
			return msg.Whereabouts{}, &shared.Error{Code: shared.CodeBadData, Field: "data.value.page", Message: "The page must be a path of 1 to 32 bytes, such as /ticker."}
		case w.TTL <= 0 || w.TTL > msg.WhereTTL*time.Millisecond:
			return msg.Whereabouts{}, &shared.Error{Code: shared.CodeBadData, Field: "data.ttl_ms", Message: fmt.Sprintf("Whereabouts need a TTL of at most %d ms.", msg.WhereTTL)}
		}
		return msg.Whereabouts{Name: w.Conn.Name(), Page: w.Value.Page}, nil
	})
	return m, nil
}

// errNoWhere is logged when the board could not be declared.
var errNoWhere = errors.New("demo: the who-is-where board is off")
