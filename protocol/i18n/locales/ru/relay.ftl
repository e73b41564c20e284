# relay
