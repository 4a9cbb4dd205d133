// Command extproc-client plays Envoy's part towards an endpoint picker: it
// sends one chat-completion request over the ext_proc gRPC stream and prints
// what the picker decided, as one JSON line:
//
//	{"endpoint":"127.0.0.2:8001","ms":0.8}  the x-gateway-destination-endpoint it set
//	{"status":429,"body":"…","ms":0.5}      an immediate response instead (shed, no endpoint)
//
// With --repeat N it sends N requests, one after another over one
// connection, each prompt suffixed with its number, one line each; "ms" is
// the time from sending the headers to the answer.
//
// The kplug e2e tier compares these answers with `kubectl inference explain`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extproc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const destinationHeader = "x-gateway-destination-endpoint"

type verdict struct {
	Endpoint string  `json:"endpoint,omitempty"`
	Status   int     `json:"status,omitempty"`
	Body     string  `json:"body,omitempty"`
	Millis   float64 `json:"ms"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9002", "the picker's ext_proc gRPC address")
	model := flag.String("model", "", "the model named in the request body")
	objective := flag.String("objective", "", "x-gateway-inference-objective header (an InferenceObjective's name)")
	prompt := flag.String("prompt", "hello", "the user message")
	timeout := flag.Duration("timeout", 10*time.Second, "give up after this long (each request)")
	repeat := flag.Int("repeat", 1, "send this many requests")
	flag.Parse()
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "extproc-client:", err)
		os.Exit(1)
	}
	defer conn.Close()
	client := extproc.NewExternalProcessorClient(conn)
	for i := 0; i < *repeat; i++ {
		text := *prompt
		if *repeat > 1 {
			text = fmt.Sprintf("%s #%d", *prompt, i)
		}
		v, err := ask(client, *model, *objective, text, *timeout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "extproc-client:", err)
			os.Exit(1)
		}
		out, _ := json.Marshal(v)
		fmt.Println(string(out))
	}
}

func header(key, value string) *corev3.HeaderValue {
	return &corev3.HeaderValue{Key: key, RawValue: []byte(value)}
}

func ask(client extproc.ExternalProcessorClient, model, objective, prompt string, timeout time.Duration) (*verdict, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	stream, err := client.Process(ctx)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]any{
		"model":    model,
		"messages": []map[string]string{{"role": "user", "content": prompt}},
	})
	headers := []*corev3.HeaderValue{
		header(":method", "POST"),
		header(":path", "/v1/chat/completions"),
		header(":authority", "kplug.test"),
		header("content-type", "application/json"),
		header("content-length", fmt.Sprint(len(body))),
	}
	if objective != "" {
		headers = append(headers, header("x-gateway-inference-objective", objective))
	}
	start := time.Now()
	elapsed := func() float64 { return float64(time.Since(start).Microseconds()) / 1000 }
	if err := stream.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_RequestHeaders{
		RequestHeaders: &extproc.HttpHeaders{Headers: &corev3.HeaderMap{Headers: headers}},
	}}); err != nil {
		return nil, err
	}
	if err := stream.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_RequestBody{
		RequestBody: &extproc.HttpBody{Body: body, EndOfStream: true},
	}}); err != nil {
		return nil, err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return nil, fmt.Errorf("no decision: %w", err)
		}
		if imm := resp.GetImmediateResponse(); imm != nil {
			return &verdict{Status: int(imm.GetStatus().GetCode()), Body: string(imm.GetBody()), Millis: elapsed()}, nil
		}
		if h := resp.GetRequestHeaders(); h != nil {
			for _, set := range h.GetResponse().GetHeaderMutation().GetSetHeaders() {
				if set.GetHeader().GetKey() == destinationHeader {
					return &verdict{Endpoint: string(set.GetHeader().GetRawValue()), Millis: elapsed()}, nil
				}
			}
			return nil, fmt.Errorf("the picker answered the headers without %s", destinationHeader)
		}
	}
}
