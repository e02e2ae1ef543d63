package deploy

import (
	"context"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// The OneBot examples load on top of docker-compose.yml, switch the session to the onebot
// driver, and set only variables the session reads.
func TestComposeOneBotExamples(t *testing.T) {
	tests := []struct {
		file, peer, setting string
	}{
		{"deploy/onebot/compose.napcat.yml", "napcat", "ONEBOT_URL"},
		{"deploy/onebot/compose.lagrange.yml", "lagrange", "ONEBOT_REVERSE_ADDR"},
	}
	known := sessionKeys(t)
	for _, tc := range tests {
		t.Run(tc.peer, func(t *testing.T) {
			opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml", "../" + tc.file},
				cli.WithName("openqq"), cli.WithWorkingDirectory(".."), cli.WithEnv([]string{"ONEBOT_ACCESS_TOKEN=t0ken"}))
			if err != nil {
				t.Fatal(err)
			}
			p, err := opts.LoadProject(context.Background())
			if err != nil {
				t.Fatalf("%s does not load: %v", tc.file, err)
			}
			if _, ok := p.Services[tc.peer]; !ok {
				t.Errorf("no %s service", tc.peer)
			}
			s := p.Services["session"]
			for k, want := range map[string]string{"DRIVER": "onebot", "ONEBOT_ACCESS_TOKEN": "t0ken"} {
				if v := s.Environment[k]; v == nil || *v != want {
					t.Errorf("%s = %v, want %s", k, v, want)
				}
			}
			if s.Environment[tc.setting] == nil {
				t.Errorf("%s not set", tc.setting)
			}
			for k := range s.Environment {
				if !known[k] {
					t.Errorf("environment sets %s, which openqq-session does not read", k)
				}
			}
		})
	}
}
